import Logging
import Synchronization

/// The minimum log level, shared by every logger of the process, so that a SIGHUP that changes
/// `log.level` applies at once to every log line, whichever `Logger` value writes it.
public final class LogThreshold: Sendable {
    private let index: Atomic<Int>

    public init(_ level: Logger.Level) {
        index = Atomic(Self.levels.firstIndex(of: level)!)
    }

    public var level: Logger.Level {
        get { Self.levels[index.load(ordering: .relaxed)] }
        set { index.store(Self.levels.firstIndex(of: newValue)!, ordering: .relaxed) }
    }

    private static let levels = Logger.Level.allCases
}
