import Dashboard
import Protocol

/// What the dashboard's live feed sends: the daemon's status and the cells since a page's last
/// update, read from the ``CellFeed`` the pipeline fills.
struct DashboardSource: Sendable {
    let feed: CellFeed
    /// The `status` object of the update (the control `status` fields, latencies, uptime).
    let status: @Sendable () -> JSONValue
    /// Time between two updates of a page.
    var interval: Duration = .milliseconds(500)
    /// Most cells one update carries: a page that falls further behind skips the older ones.
    var maxCellsPerUpdate = 1000

    /// The next server-sent event for a page that has seen the cells up to serial `cursor`.
    func event(after cursor: inout UInt64) -> String {
        let (points, crops, next) = feed.read(after: cursor, maxCells: maxCellsPerUpdate)
        cursor = next
        return DashboardUpdate(status: status(), points: points, crops: crops).serverSentEvent()
    }
}

extension DashboardSource {
    /// The daemon's dashboard: the control `status` fields (run, model and its hash, uptime,
    /// counts), the p50 and p99 of each named latency in ms, and the cells the feed skipped.
    static func daemon(feed: CellFeed, control: DaemonControl, latencies: [(String, LatencyHistogram)]) -> DashboardSource {
        DashboardSource(feed: feed) {
            var fields = control.statusFields()
            var latencyFields: [String: JSONValue] = [:]
            for (name, histogram) in latencies {
                let milliseconds = { (percentile: Double) in histogram.seconds(atPercentile: percentile).map { JSONValue.double($0 * 1e3) } ?? .null }
                latencyFields[name] = .object(["p50": milliseconds(50), "p99": milliseconds(99)])
            }
            fields["latency_ms"] = .object(latencyFields)
            fields["dashboard_cells_skipped"] = .unsigned(feed.skipped)
            return .object(fields)
        }
    }
}
