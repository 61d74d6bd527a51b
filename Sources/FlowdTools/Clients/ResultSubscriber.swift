import Foundation
import Protocol
import ZeroMQ

/// Reads a flowd result stream (docs/protocol.md): `counts` and `cell` messages from the
/// daemon's PUB socket. The one subscriber of the tools: `flowd watch` and `flowd demo` read
/// decoded messages (``next(waitingUpTo:)``), `flowd bench pipeline`'s ``ResultCollector``
/// keeps them raw (``nextRaw(waitingUpTo:)``) and decodes after the run.
public struct ResultSubscriber {
    /// One message of the stream.
    public enum Message {
        case counts(CountsMessage)
        case cell(CellMessage)
        /// A message that is not a valid `counts` or `cell`: its topic and what was wrong. Counted
        /// and shown by the readers, never dropped in silence.
        case undecodable(topic: String, reason: String)
    }

    /// One message as it arrived, not decoded: its topic frame, its body (the JSON) and how many
    /// parts it had (2 for a valid message).
    public struct RawMessage {
        public var topic: String
        public var body: [UInt8]
        public var parts: Int
    }

    private let socket: ZMQSocket
    private let parts = [ZMQMessage(), ZMQMessage()]
    private let decoder = JSONDecoder()

    /// Subscribes to `topics` (both by default). Connecting is lazy in ZeroMQ: no message is
    /// lost once the first one has arrived, but those published before may be.
    /// - Parameter curve: this subscriber's key pair and flowd's public key, when flowd has
    ///   CurveZMQ on (the key must be on `curve.subscriber_keys`).
    public init(
        context: ZMQContext, endpoint: String, topics: [Topic] = Topic.allCases, curve: CurveClientKeys? = nil
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .sub)
        // Unbounded receive queue: a reader that redraws a terminal, or a benchmark that counts
        // every cell, must not lose one.
        try socket.setReceiveHighWaterMark(0)
        for topic in topics { try socket.subscribe(topic.rawValue) }
        if let curve { try socket.makeCurveClient(keys: curve.keys, serverKey: curve.serverKey) }
        try socket.connect(endpoint)
    }

    /// The next message as it arrived, or `nil` if none came within `milliseconds`.
    public func nextRaw(waitingUpTo milliseconds: Int32) throws(ZMQError) -> RawMessage? {
        try socket.setReceiveTimeout(milliseconds: milliseconds)
        let count: Int
        do { count = try socket.receive(into: parts) } catch {
            if error.isTimeout { return nil }
            throw error
        }
        return RawMessage(
            topic: String(decoding: parts[0].bytes, as: UTF8.self), body: count == 2 ? Array(parts[1].bytes) : [],
            parts: count)
    }

    /// The next message, decoded, or `nil` if none came within `milliseconds`.
    public func next(waitingUpTo milliseconds: Int32) throws(ZMQError) -> Message? {
        try nextRaw(waitingUpTo: milliseconds).map(decode)
    }

    /// `raw` as a `counts` or `cell` message of version 1, or why it is not one.
    public func decode(_ raw: RawMessage) -> Message {
        let topic = raw.topic
        guard raw.parts == 2 else {
            return .undecodable(topic: topic, reason: "\(raw.parts) parts, expected [topic, JSON]")
        }
        let body = Data(raw.body)
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

    /// Closes the socket (it also closes when the subscriber is freed).
    public func close() {
        socket.close()
    }
}
