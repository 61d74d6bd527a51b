import Protocol

extension DaemonConfig {
    /// The value of every config key in force, by key name: what run.json records, and what a
    /// SIGHUP compares to tell which settings changed. Numbers are JSON numbers, lists arrays,
    /// the rest strings written as the config file would (a test checks that each one, given
    /// back to its key, yields the same config, and that every key of ``ConfigKey/all`` is here).
    public var effectiveValues: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: ConfigKey.all.map { ($0.name, $0.read(self)) })
    }
}
