import Dispatch
import FrameIngest
import Protocol

/// Makes `counts` messages: per-camera frame counters, the run's cells, the daemon's uptime.
/// The periodic and final `counts`, the control `status` and each run's run.json use it.
struct CountsSource: Sendable {
    let counters: IngestCounters
    let cells: CellTally
    /// Monotonic ns at the daemon's start (for `uptime_s`).
    let startNanoseconds: UInt64

    /// The next `counts` to publish: the rate is since the previous one, and a new rate
    /// interval starts.
    func next(final: Bool) -> CountsMessage {
        let now = DispatchTime.now().uptimeNanoseconds
        return message(cells: cells.reading(at: now), at: now, final: final)
    }

    /// The counts now, for `status` and run.json (the rate is since the last published `counts`).
    func current(final: Bool = false) -> CountsMessage {
        let now = DispatchTime.now().uptimeNanoseconds
        return message(cells: cells.peek(at: now), at: now, final: final)
    }

    /// The counts with `cells` read already (inside ``CellTally/reset(at:_:)``).
    func message(cells: CellCounts, at now: UInt64, final: Bool) -> CountsMessage {
        CountsMessage(
            uptimeSeconds: Double(now &- startNanoseconds) / 1e9, cameras: counters.snapshot(at: now), cells: cells,
            final: final)
    }
}
