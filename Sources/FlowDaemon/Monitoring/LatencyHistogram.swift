import Synchronization

/// A latency histogram for Prometheus, updated from any worker thread.
///
/// Buckets are fixed (0.1 ms to 10 s, about 2.5× apart), as Prometheus needs identical bucket
/// bounds over a series' lifetime. An observation takes an uncontended lock for a few
/// nanoseconds: negligible at thousands of observations a second.
final class LatencyHistogram: Sendable {
    /// Upper bounds of the buckets, seconds.
    static let bounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    private struct State {
        /// Per bucket, the last one for values above every bound (+Inf).
        var counts = [UInt64](repeating: 0, count: LatencyHistogram.bounds.count + 1)
        var sumNanoseconds: UInt64 = 0
    }

    private let state = Mutex(State())

    func observe(nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        let bucket = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        state.withLock {
            $0.counts[bucket] += 1
            $0.sumNanoseconds &+= nanoseconds
        }
    }

    /// Cumulative counts per bound (the last is +Inf), and the sum in seconds.
    func snapshot() -> (cumulative: [UInt64], sumSeconds: Double) {
        let (counts, sum) = state.withLock { ($0.counts, $0.sumNanoseconds) }
        var running: UInt64 = 0
        return (counts.map { running += $0; return running }, Double(sum) / 1e9)
    }
}
