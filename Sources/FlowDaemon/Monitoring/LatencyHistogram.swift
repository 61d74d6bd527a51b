import Histogram
import Synchronization

/// A latency histogram, updated from any worker thread: Prometheus buckets and percentiles from
/// one HdrHistogram (hdrhistogram-swift).
///
/// The HdrHistogram keeps 3 significant digits from 1 µs to 100 s (values beyond are counted at
/// 100 s), about 160 KiB; an observation is one array increment under an uncontended lock.
/// Readers copy it under the lock and do their arithmetic outside, so a scrape or the dashboard
/// never holds a worker up for more than the copy. Prometheus needs identical bucket bounds over
/// a series' lifetime, so the exposition keeps the fixed bounds below (0.1 ms to 10 s, about
/// 2.5× apart); a bucket's count includes values within HdrHistogram's resolution (0.1 %) of
/// its bound.
final class LatencyHistogram: Sendable {
    /// Upper bounds of the Prometheus buckets, seconds.
    static let bounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    private static let highestNanoseconds: UInt64 = 100_000_000_000

    private struct State {
        var histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 1_000, highestTrackableValue: LatencyHistogram.highestNanoseconds,
            numberOfSignificantValueDigits: .three)
        /// Exact, for `_sum` (HdrHistogram's values are rounded to its resolution).
        var sumNanoseconds: UInt64 = 0
    }

    private let state = Mutex(State())

    func observe(nanoseconds: UInt64) {
        state.withLock {
            _ = $0.histogram.record(min(nanoseconds, Self.highestNanoseconds))
            $0.sumNanoseconds &+= nanoseconds
        }
    }

    /// Cumulative counts per bound (the last is +Inf), and the sum in seconds.
    func snapshot() -> (cumulative: [UInt64], sumSeconds: Double) {
        let (histogram, sum) = state.withLock { ($0.histogram, $0.sumNanoseconds) }
        let cumulative = Self.bounds.map { histogram.count(within: 0...UInt64(($0 * 1e9).rounded())) } + [histogram.totalCount]
        return (cumulative, Double(sum) / 1e9)
    }

    /// The latency below which `percentile` % of the observations fall, seconds; nil before any.
    func seconds(atPercentile percentile: Double) -> Double? {
        let histogram = state.withLock { $0.histogram }
        guard histogram.totalCount > 0 else { return nil }
        return Double(histogram.valueAtPercentile(percentile)) / 1e9
    }
}
