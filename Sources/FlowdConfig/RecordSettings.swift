/// Where each run is recorded and how often it reaches the disk (`record.*` in config/flowd.yaml).
public struct RecordSettings: Sendable, Equatable {
    /// Directory that holds one folder per run (`record.dir`); empty: the state directory
    /// (``RecordDirectory/resolve(configured:environment:)``).
    public var directory = ""
    /// Seconds between flushes of recorded cells to disk (`record.flush_interval_s`, 0.01–1): a
    /// SIGKILL or power loss loses at most the cells of the last interval.
    public var flushIntervalSeconds = 0.5

    public init() {}
}
