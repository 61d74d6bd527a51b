import Dispatch
import Foundation
import Protocol
import Synchronization
import ZeroMQ

/// A subscriber to flowd's result stream on its own thread, for `flowd bench pipeline`: keeps
/// every `cell` message with the time it arrived here, and the latest `counts`.
///
/// Messages are stored raw and decoded after the run, so that the subscriber takes as little
/// CPU as possible from the daemon it measures (both share the machine).
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
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Connects to `endpoint` and starts receiving.
    init(context: ZMQContext, endpoint: String) throws(ZMQError) {
        let socket = try ZMQSocket(context: context, kind: .sub)
        try socket.setReceiveHighWaterMark(0)  // keep everything: a lost cell would skew the figures
        try socket.setReceiveTimeout(milliseconds: 50)
        try socket.subscribe(Topic.cell.rawValue)
        try socket.subscribe(Topic.counts.rawValue)
        try socket.connect(endpoint)
        let thread = Thread { [self] in receive(socket) }
        thread.name = "bench-results"
        thread.start()
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
        stopping.store(true, ordering: .releasing)
        finished.wait()
    }

    private func receive(_ socket: ZMQSocket) {
        let parts = [ZMQMessage(), ZMQMessage()]
        while !stopping.load(ordering: .acquiring) {
            do {
                guard try socket.receive(into: parts) == 2 else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if parts[0].bytes.elementsEqual(Topic.cell.rawValue.utf8) {
                    let json = Array(parts[1].bytes)
                    state.withLock { $0.cells.append(Received(atNanoseconds: now, json: json)) }
                } else {
                    let counts = try JSONDecoder().decode(CountsMessage.self, from: Data(parts[1].bytes))
                    state.withLock { $0.counts = counts }
                }
            } catch let error as ZMQError where error.isTimeout {
                continue
            } catch {
                state.withLock { $0.failure = "\(error)" }
                break
            }
        }
        socket.close()
        finished.signal()
    }
}
