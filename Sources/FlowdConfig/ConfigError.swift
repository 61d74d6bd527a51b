/// A configuration problem, naming the key and where its value came from.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    public init(key: String, source: ConfigSource, expected: String, got: String) {
        description = "config key \(key) (\(source)): expected \(expected), got \"\(got)\""
    }
}

/// Where a configuration value came from, for error messages.
public enum ConfigSource: CustomStringConvertible {
    case file(String)
    case environment(String)
    case commandLine(String)

    public var description: String {
        switch self {
        case .file(let path): "from \(path)"
        case .environment(let variable): "from environment variable \(variable)"
        case .commandLine(let option): "from command-line option \(option)"
        }
    }
}
