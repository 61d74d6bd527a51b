import Protocol
import Synchronization
import ZeroMQ

/// flowd's result stream: a bound PUB socket sending multipart `[topic, JSON]`.
///
/// PUB never blocks: a subscriber that cannot keep up loses messages at its high-water mark,
/// which must never slow the pipeline. Calls from any thread are serialised by a lock, since
/// libzmq sockets are single-threaded.
final class ResultPublisher: Sendable {
    private let socket: Mutex<ZMQSocket>
    let endpoint: String

    /// - Parameter linger: ms a close may spend delivering the last messages (the final counts).
    init(context: ZMQContext, endpoint: String, linger: Int32) throws(ZMQError) {
        let socket = try ZMQSocket(context: context, kind: .pub, linger: linger)
        try socket.setSendHighWaterMark(10_000)
        try socket.bind(endpoint)
        self.endpoint = try socket.lastEndpoint
        self.socket = Mutex(socket)
    }

    func publish(_ topic: Topic, _ json: [UInt8]) throws(ZMQError) {
        try socket.withLock { (socket) throws(ZMQError) in
            try socket.send([Array(topic.rawValue.utf8), json], wait: false)
        }
    }

    func close() {
        socket.withLock { $0.close() }
    }
}
