import Protocol
import Synchronization

/// Cells published in this run, per label, and the objects that were not cells, per reason:
/// what `counts` and `/metrics` report.
///
/// A cell is sent and counted in one step (``count(_:sending:)``), and a new run starts
/// with ``reset(at:_:)`` under the same lock: so every cell falls wholly into one run, and a
/// run's record, its counts and the published stream agree.
final class CellTally: Sendable {
    private struct State {
        var byClass: [String: UInt64] = [:]
        var total: UInt64 = 0
        var objectsRejected: [String: UInt64] = [:]
        /// Total and time (monotonic ns) at the previous rate reading.
        var lastTotal: UInt64 = 0
        var lastNanoseconds: UInt64

        mutating func read(at now: UInt64) -> CellCounts {
            let seconds = Double(now &- lastNanoseconds) / 1e9
            let rate = seconds > 0 ? Double(total - lastTotal) / seconds : 0
            lastTotal = total
            lastNanoseconds = now
            return CellCounts(total: total, byClass: byClass, perSecond: rate, objectsRejectedByReason: objectsRejected)
        }
    }

    private let state: Mutex<State>

    init(startNanoseconds: UInt64) {
        state = Mutex(State(lastNanoseconds: startNanoseconds))
    }

    /// Runs `send` (which publishes and records the cell) and counts the cell, under the lock.
    func count(_ label: String, sending send: () -> Void) {
        state.withLock {
            send()
            $0.byClass[label, default: 0] += 1
            $0.total += 1
        }
    }

    /// Runs `record` (which records the object in the run's rejects.rtdc) and counts an object
    /// that is not a cell under `reason` (an ``ObjectRejection`` raw value), under the lock: a
    /// run's rejects file and its `objects_rejected_by_reason` agree, as its cells do.
    func countRejected(_ reason: String, recording record: () -> Void) {
        state.withLock {
            record()
            $0.objectsRejected[reason, default: 0] += 1
        }
    }

    /// Ends the run: `body` gets its final counts (and may switch the recording to a new run),
    /// then the counts restart from zero, at `now` (monotonic ns).
    func reset<Outcome: Sendable>(at now: UInt64, _ body: (CellCounts) -> Outcome) -> Outcome {
        state.withLock { s in
            let outcome = body(s.read(at: now))
            s = State(lastNanoseconds: now)
            return outcome
        }
    }

    /// Counts per label and in total.
    var byClass: [String: UInt64] { state.withLock { $0.byClass } }

    /// Objects that were not cells, per reason.
    var objectsRejected: [String: UInt64] { state.withLock { $0.objectsRejected } }

    /// The counts with the rate since the previous reading (since start for the first), which
    /// starts the next rate interval.
    func reading(at now: UInt64) -> CellCounts {
        state.withLock { $0.read(at: now) }
    }

    /// The counts with the rate since the previous reading, leaving the interval open.
    func peek(at now: UInt64) -> CellCounts {
        state.withLock { s in
            var copy = s
            return copy.read(at: now)
        }
    }
}
