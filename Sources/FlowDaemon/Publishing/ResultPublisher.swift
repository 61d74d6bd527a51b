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

    /// The ZAP domain of the result socket when CurveZMQ is on: the allow-list of subscriber keys.
    static let curveDomain = "subscribers"

    /// - Parameters:
    ///   - linger: ms a close may spend delivering the last messages (the final counts).
    ///   - curve: flowd's key pair, to be the CurveZMQ server (``curveDomain``).
    init(context: ZMQContext, endpoint: String, linger: Int32, curve: CurveKeyPair? = nil) throws(ZMQError) {
        let socket = try ZMQSocket(context: context, kind: .pub, linger: linger)
        try socket.setSendHighWaterMark(10_000)
        try socket.setMaxMessageSize(Self.maxSubscriptionBytes)
        if let curve { try socket.makeCurveServer(keys: curve, domain: Self.curveDomain) }
        try socket.bind(endpoint)
        self.endpoint = try socket.lastEndpoint
        self.socket = Mutex(socket)
    }

    /// All a subscriber ever sends a PUB socket is its subscriptions (a flag byte and a topic
    /// prefix, such as "counts") and the handshake (a CurveZMQ INITIATE is about 300 bytes);
    /// anything longer than 4 KiB makes libzmq drop that subscriber, so that no one can make
    /// the daemon buffer a large message on its result socket.
    static let maxSubscriptionBytes: Int64 = 4096

    func publish(_ topic: Topic, _ json: [UInt8]) throws(ZMQError) {
        try socket.withLock { (socket) throws(ZMQError) in
            try socket.send([Array(topic.rawValue.utf8), json], wait: false)
        }
    }

    func close() {
        socket.withLock { $0.close() }
    }
}
