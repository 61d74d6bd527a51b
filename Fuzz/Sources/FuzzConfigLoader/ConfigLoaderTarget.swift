import FlowdConfig

/// The fuzz target (libFuzzer calls it with each input): one input is UTF-8 text, a YAML config file, optionally followed by
/// a NUL byte and lines that are each either an environment variable (`FLOWD_…=value`) or a
/// `--set` value (`key=value`). The daemon's loader must return a config or a ``ConfigError``.
func fuzzConfigLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else {
        return -1  // the daemon reads config files as UTF-8 and refuses anything else before parsing
    }
    let sections = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
    var environment: [String: String] = [:]
    var overrides: [ConfigLoader.Override] = []
    for line in sections.count == 2 ? sections[1].split(separator: "\n") : [] {
        if line.hasPrefix("FLOWD_"), let equals = line.firstIndex(of: "=") {
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        } else if let override = try? ConfigLoader.override(parsing: String(line)) {
            overrides.append(override)
        }
    }
    _ = ConfigLoader.unknownEnvironmentVariables(environment)
    _ = try? ConfigLoader.load(yaml: String(sections[0]), path: "fuzz.yaml", environment: environment, overrides: overrides)
    return 0
}
