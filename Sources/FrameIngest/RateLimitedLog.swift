import Logging
import Synchronization

/// Logs at most `burst` messages per key in each `window`, then one line saying how many were
/// suppressed: a camera sending garbage at 1 kHz must not fill the journal.
public final class RateLimitedLog: Sendable {
    private struct Bucket {
        var windowStart: UInt64
        var logged = 0
        var suppressed = 0
    }

    private let buckets = Mutex<[String: Bucket]>([:])
    private let burst: Int
    private let windowNanoseconds: UInt64
    private let logger: Logger

    public init(logger: Logger, burst: Int = 10, windowSeconds: Double = 10) {
        self.logger = logger
        self.burst = burst
        self.windowNanoseconds = UInt64(windowSeconds * 1e9)
    }

    public func warning(key: String, _ message: @autoclosure () -> Logger.Message, at now: UInt64) {
        let (log, suppressedBefore) = buckets.withLock { buckets -> (Bool, Int) in
            var bucket = buckets[key] ?? Bucket(windowStart: now)
            var reported = 0
            if now &- bucket.windowStart >= windowNanoseconds {
                reported = bucket.suppressed
                bucket = Bucket(windowStart: now)
            }
            let log = bucket.logged < burst
            if log { bucket.logged += 1 } else { bucket.suppressed += 1 }
            // Bounded: one bucket per camera id and reason, both from bounded sets.
            buckets[key] = bucket
            return (log, reported)
        }
        if suppressedBefore > 0 {
            logger.warning("\(key): \(suppressedBefore) similar messages suppressed in the last window")
        }
        if log { logger.warning(message()) }
    }
}
