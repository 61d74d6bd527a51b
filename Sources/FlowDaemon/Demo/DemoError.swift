/// Why `flowd demo` could not finish: a child process failed, or what it needed is missing.
struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
