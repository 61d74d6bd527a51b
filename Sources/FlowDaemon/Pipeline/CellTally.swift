import Protocol
import Synchronization

/// Cells published in this run, per label: what `counts` and `/metrics` report.
final class CellTally: Sendable {
    private struct State {
        var byClass: [String: UInt64] = [:]
        var total: UInt64 = 0
        /// Total and time (monotonic ns) at the previous rate reading.
        var lastTotal: UInt64 = 0
        var lastNanoseconds: UInt64
    }

    private let state: Mutex<State>

    init(startNanoseconds: UInt64) {
        state = Mutex(State(lastNanoseconds: startNanoseconds))
    }

    func count(_ label: String) {
        state.withLock {
            $0.byClass[label, default: 0] += 1
            $0.total += 1
        }
    }

    /// Counts per label and in total.
    var byClass: [String: UInt64] { state.withLock { $0.byClass } }

    /// The counts with the rate since the previous reading (since start for the first), which
    /// starts the next rate interval.
    func reading(at now: UInt64) -> CellCounts {
        state.withLock { s in
            let seconds = Double(now &- s.lastNanoseconds) / 1e9
            let rate = seconds > 0 ? Double(s.total - s.lastTotal) / seconds : 0
            s.lastTotal = s.total
            s.lastNanoseconds = now
            return CellCounts(total: s.total, byClass: s.byClass, perSecond: rate)
        }
    }
}
