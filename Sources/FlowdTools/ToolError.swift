/// Why a tool (`flowd demo`, `flowd bench pipeline`, …) could not finish: a child process
/// failed, a daemon did not answer in time, or what it needed is missing.
public struct ToolError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
