import Prometheus
import Synchronization

/// A stage's latency, observed from any worker thread into two well-kept histograms: an
/// HdrHistogram (hdrhistogram-swift) for the percentiles the dashboard shows, and the stage's
/// series of `flowd_stage_seconds` in the daemon's Prometheus registry (swift-prometheus), whose
/// buckets `/metrics` exposes.
///
/// The HdrHistogram keeps 3 significant digits from 1 µs to 100 s (values beyond are counted at
/// 100 s), about 160 KiB; an observation is one array increment under an uncontended lock, and a
/// reader copies it under the lock and does its arithmetic outside. Prometheus needs identical
/// bucket bounds over a series' lifetime, so the exposition has the fixed bounds below (0.1 ms
/// to 10 s, about 2.5× apart).
final class LatencyHistogram: Sendable {
    /// Upper bounds of the Prometheus buckets.
    static let bounds: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    static let family = "flowd_stage_seconds"
    private static let highestNanoseconds: UInt64 = 100_000_000_000

    private let percentiles = Mutex(
        NanosecondHistogram(
            lowestDiscernibleValue: 1_000, highestTrackableValue: LatencyHistogram.highestNanoseconds,
            numberOfSignificantValueDigits: .three))
    private let exposition: DurationHistogram

    /// The latency of `stage` (the `stage` label of ``family`` in `registry`).
    init(stage: String, registry: PrometheusCollectorRegistry) {
        exposition = registry.makeDurationHistogram(
            name: Self.family, labels: [("stage", stage)], buckets: Self.bounds,
            help: "Latency of each processing stage, seconds.")
    }

    func observe(nanoseconds: UInt64) {
        percentiles.withLock { _ = $0.record(min(nanoseconds, Self.highestNanoseconds)) }
        exposition.record(.nanoseconds(Int64(clamping: nanoseconds)))
    }

    /// Observations so far.
    var count: UInt64 { percentiles.withLock { $0.totalCount } }

    /// The latency below which `percentile` % of the observations fall, seconds; nil before any.
    func seconds(atPercentile percentile: Double) -> Double? {
        let histogram = percentiles.withLock { $0 }
        guard histogram.totalCount > 0 else { return nil }
        return Double(histogram.valueAtPercentile(percentile)) / 1e9
    }
}
