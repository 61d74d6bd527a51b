import Prometheus
import Synchronization

/// Brings values the daemon already counts elsewhere (``IngestCounters``, ``CellTally``, the
/// recorder, the stream) into its Prometheus registry when `/metrics` is read, so the exposition
/// is swift-prometheus's and the counts have one source: `counts` and `/metrics` never disagree.
///
/// A mirrored counter is advanced by what its source counted since the previous scrape. A source
/// that restarts from zero (``CellTally`` at a new run) resets the counter and advances it to the
/// new total, which Prometheus' `rate()` reads as the counter reset it is.
final class PrometheusMirror: Sendable {
    let registry: PrometheusCollectorRegistry
    private struct SeriesKey: Hashable {
        let name: String
        let labels: [String]
    }
    /// The total each counter series was advanced to, under the lock scrapes take in turn.
    private let totals = Mutex<[SeriesKey: UInt64]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Sets the counter `name{labels}` to its source's `total`.
    func counter(_ name: String, help: String, _ labels: [(String, String)] = [], total: UInt64) {
        let counter = registry.makeCounter(name: name, labels: labels, help: help)
        let key = SeriesKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        totals.withLock { totals in
            let previous = totals[key] ?? 0
            if total < previous {
                counter.reset()
                counter.increment(by: Int64(clamping: total))
            } else if total > previous {
                counter.increment(by: Int64(clamping: total - previous))
            }
            totals[key] = total
        }
    }

    /// Sets one counter `name{labels, label=value}` per value: every `known` one (at 0 until it
    /// happens, so that `rate()` sees its first increment) and any other `totals` holds (a value
    /// the daemon does not know in advance is never lost).
    func counters(
        _ name: String, help: String, _ labels: [(String, String)] = [], by label: String, known: [String],
        totals: [String: UInt64]
    ) {
        for value in Set(known).union(totals.keys) {
            counter(name, help: help, labels + [(label, value)], total: totals[value] ?? 0)
        }
    }

    /// Sets the gauge `name{labels}` to `value`.
    func gauge(_ name: String, help: String, _ labels: [(String, String)] = [], value: Double) {
        registry.makeGauge(name: name, labels: labels, help: help).set(value)
    }

    /// The registry in the Prometheus text format, version 0.0.4.
    func exposition() -> String {
        registry.emitToString()
    }
}
