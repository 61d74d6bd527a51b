import Foundation
import Yams

/// Builds a ``DaemonConfig`` from defaults, a YAML file, the environment and the command line,
/// each overriding the one before. Unknown keys are errors, not silently ignored: a typo in a
/// config file must not leave a rig running on a default the operator did not choose.
public enum ConfigLoader {
    /// A value given on the command line: `--set key=value`, `--input`, `--publish`.
    public struct Override {
        public var key: String
        public var values: [String]
        public var option: String

        public init(key: String, values: [String], option: String) {
            self.key = key
            self.values = values
            self.option = option
        }
    }

    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [Override] = []
    ) throws(ConfigError) -> DaemonConfig {
        let text = try file.map { path throws(ConfigError) in try read(path) }
        return try load(yaml: text, path: file ?? "", environment: environment, overrides: overrides)
    }

    /// As ``load(file:environment:overrides:)``, with the file's text already read; `path`
    /// names it in messages. The fuzz target (Fuzz/) feeds its inputs through here.
    public static func load(
        yaml: String?, path: String, environment: [String: String], overrides: [Override] = []
    ) throws(ConfigError) -> DaemonConfig {
        var config = DaemonConfig()
        if let yaml {
            for (key, values) in try fileValues(yaml: yaml, path: path) {
                try apply(key, values, .file(path), to: &config)
            }
        }
        for key in ConfigKey.all {
            guard let text = environment[key.environmentVariable] else { continue }
            let values = key.isList ? text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [text]
            try key.apply(&config, values, .environment(key.environmentVariable))
        }
        for override in overrides {
            try apply(override.key, override.values, .commandLine(override.option), to: &config)
        }
        try config.scaleOut.validate()
        return config
    }

    /// `FLOWD_*` variables that name no config key: probably misspelt, so worth a warning
    /// (not an error: other tools may use the prefix, as the test suite's `FLOWD_BIN` does).
    /// `alsoKnown`: variables flowd sets for itself (`BLASRuntime.replacedCoreVariable`, when it
    /// re-executes with a faster BLAS kernel).
    public static func unknownEnvironmentVariables(_ environment: [String: String], alsoKnown: [String] = []) -> [String] {
        let known = Set(ConfigKey.all.map(\.environmentVariable) + alsoKnown)
        return environment.keys.filter { $0.hasPrefix("FLOWD_") && !known.contains($0) }.sorted()
    }

    /// Parses `key=value` from `--set`.
    public static func override(parsing text: String) throws(ConfigError) -> Override {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ConfigError("--set expects KEY=VALUE, e.g. --set ingest.queue_capacity=128; got \"\(text)\"")
        }
        let key = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        let values = ConfigKey.named(key)?.isList == true ? value.split(separator: ",").map(String.init) : [value]
        return Override(key: key, values: values, option: "--set \(key)")
    }

    private static func apply(
        _ key: String, _ values: [String], _ source: ConfigSource, to config: inout DaemonConfig
    ) throws(ConfigError) {
        guard let spec = ConfigKey.named(key) else {
            let known = ConfigKey.all.map(\.name)
            // Suggest the nearest known key only when it is a plausible typo.
            let nearest = known.min { editDistance($0, key) < editDistance($1, key) }
            let hint = nearest.flatMap { editDistance($0, key) <= max(2, key.count / 4) ? "; did you mean \($0)?" : nil } ?? ""
            throw ConfigError("unknown config key \(key) (\(source))\(hint)")
        }
        try spec.apply(&config, values, source)
    }

    /// The file's leaves as dotted keys: `ingest: {queue_capacity: 64}` → `ingest.queue_capacity`.
    static func fileValues(path: String) throws(ConfigError) -> [(String, [String])] {
        try fileValues(yaml: try read(path), path: path)
    }

    private static func read(_ path: String) throws(ConfigError) -> String {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
    }

    private static func fileValues(yaml text: String, path: String) throws(ConfigError) -> [(String, [String])] {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError("config file \(path) is not valid YAML: \(error)")
        }
        guard let root else { return [] }
        guard root.mapping != nil else {
            throw ConfigError("config file \(path) must be a mapping of keys to values")
        }
        var leaves: [(String, [String])] = []
        try flatten(root, prefix: "", path: path, into: &leaves)
        return leaves
    }

    private static func flatten(
        _ node: Node, prefix: String, path: String, into leaves: inout [(String, [String])]
    ) throws(ConfigError) {
        let line = node.mark.map { " (line \($0.line))" } ?? ""
        switch node {
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                guard let name = keyNode.string else {
                    throw ConfigError("config file \(path)\(line): keys must be plain names")
                }
                try flatten(value, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", path: path, into: &leaves)
            }
        case .sequence(let sequence):
            var values: [String] = []
            for item in sequence {
                guard let text = item.string else {
                    throw ConfigError("config key \(prefix) (from \(path)\(line)): list items must be plain values")
                }
                values.append(text)
            }
            leaves.append((prefix, values))
        case .scalar(let scalar):
            // An empty value (`key:` alone) leaves the default in place.
            if node.null == nil { leaves.append((prefix, [scalar.string])) }
        case .alias:
            throw ConfigError("config file \(path)\(line): YAML aliases are not supported")
        }
    }

    /// Levenshtein distance, for "did you mean" hints.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
