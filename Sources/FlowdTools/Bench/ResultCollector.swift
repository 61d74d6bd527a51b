import Dispatch
import Foundation
import Protocol
import Synchronization
import SystemSupport
import ZeroMQ

/// flowd's result stream read on a thread of its own, for `flowd bench pipeline`: keeps every
/// `cell` message with the time it arrived here, and the latest `counts`.
///
/// Cell messages are stored raw (``ResultSubscriber/nextRaw(waitingUpTo:)``) and decoded after
/// the run, so that the subscriber takes as little CPU as possible from the daemon it measures
/// (both share the machine).
final class ResultCollector: Sendable {
    struct Received: Sendable {
        /// `DispatchTime.now().uptimeNanoseconds` when it arrived here.
        var atNanoseconds: UInt64
        var json: [UInt8]
    }

    private struct State {
        var cells: [Received] = []
        var counts: CountsMessage?
        var failure: String?
    }

    private let state = Mutex(State())
    private let thread = BackgroundThread(name: "bench-results")

    /// Connects to `endpoint` and starts receiving.
    init(context: ZMQContext, endpoint: String) throws(ZMQError) {
        let subscriber = try ResultSubscriber(context: context, endpoint: endpoint)
        nonisolated(unsafe) let owned = subscriber  // used by the collector's thread only
        thread.start { [self] in receive(owned) }
    }

    /// The cell messages received so far, in order.
    var cells: [Received] { state.withLock { $0.cells } }

    /// The latest `counts` message.
    var counts: CountsMessage? { state.withLock { $0.counts } }

    /// Why receiving stopped early (a message that does not decode), if it did.
    var failure: String? { state.withLock { $0.failure } }

    /// Waits up to `seconds` for a `counts` message that satisfies `condition`.
    func waitForCounts(seconds: Double, _ condition: (CountsMessage) -> Bool) -> CountsMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let counts, condition(counts) { return counts }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    func stop() {
        thread.stop()
    }

    private func receive(_ subscriber: ResultSubscriber) {
        defer { subscriber.close() }
        while !thread.isStopping {
            do {
                guard let raw = try subscriber.nextRaw(waitingUpTo: 50), raw.parts == 2 else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if raw.topic == Topic.cell.rawValue {
                    state.withLock { $0.cells.append(Received(atNanoseconds: now, json: raw.body)) }
                } else {
                    let counts = try JSONDecoder().decode(CountsMessage.self, from: Data(raw.body))
                    state.withLock { $0.counts = counts }
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
                return
            }
        }
    }
}
