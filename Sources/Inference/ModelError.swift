/// Why a model file cannot be loaded or run. ``message`` names the tensor, op (by its index in
/// `layers`) or byte offset at fault, so a scientist can fix the export rather than guess.
public struct ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
