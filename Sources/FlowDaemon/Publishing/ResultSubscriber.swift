import Foundation
import Protocol
import ZeroMQ

/// Reads a flowd result stream (docs/protocol.md): `counts` and `cell` messages from the
/// daemon's PUB socket. `flowd watch` and `flowd demo` are its readers.
struct ResultSubscriber {
    /// One message of the stream.
    enum Message {
        case counts(CountsMessage)
        case cell(CellMessage)
        /// A message that is not a valid `counts` or `cell`: its topic and what was wrong. Counted
        /// and shown by the readers, never dropped in silence.
        case undecodable(topic: String, reason: String)
    }

    private let socket: ZMQSocket
    private let parts = [ZMQMessage(), ZMQMessage()]
    private let decoder = JSONDecoder()

    /// Subscribes to `topics` (both by default). Connecting is lazy in ZeroMQ: no message is
    /// lost once the first one has arrived, but those published before may be.
    /// - Parameter curve: this subscriber's key pair and flowd's public key, when flowd has
    ///   CurveZMQ on (the key must be on `curve.subscriber_keys`).
    init(
        context: ZMQContext, endpoint: String, topics: [Topic] = Topic.allCases, curve: CurveClientKeys? = nil
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .sub)
        // Unbounded receive queue: a reader that redraws a terminal must not lose cells.
        try socket.setReceiveHighWaterMark(0)
        for topic in topics { try socket.subscribe(topic.rawValue) }
        if let curve { try socket.makeCurveClient(keys: curve.keys, serverKey: curve.serverKey) }
        try socket.connect(endpoint)
    }

    /// The next message, or `nil` if none came within `milliseconds`.
    func next(waitingUpTo milliseconds: Int32) throws(ZMQError) -> Message? {
        try socket.setReceiveTimeout(milliseconds: milliseconds)
        let count: Int
        do { count = try socket.receive(into: parts) } catch {
            if error.isTimeout { return nil }
            throw error
        }
        let topic = String(decoding: parts[0].bytes, as: UTF8.self)
        guard count == 2 else {
            return .undecodable(topic: topic, reason: "\(count) parts, expected [topic, JSON]")
        }
        let body = Data(parts[1].bytes)
        let message: Message
        let version: Int
        do {
            switch Topic(rawValue: topic) {
            case .counts:
                let counts = try decoder.decode(CountsMessage.self, from: body)
                (message, version) = (.counts(counts), counts.v)
            case .cell:
                let cell = try decoder.decode(CellMessage.self, from: body)
                (message, version) = (.cell(cell), cell.v)
            case nil:
                return .undecodable(topic: topic, reason: "unknown topic")
            }
        } catch {
            return .undecodable(topic: topic, reason: "not a \(topic) message: \(error)")
        }
        guard version == 1 else { return .undecodable(topic: topic, reason: "version \(version); this reader knows 1") }
        return message
    }
}
