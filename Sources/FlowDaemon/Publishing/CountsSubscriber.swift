import Foundation
import Protocol
import ZeroMQ

/// Reads `counts` messages from a flowd result stream.
struct CountsSubscriber {
    private let socket: ZMQSocket
    private let message = [ZMQMessage(), ZMQMessage()]

    init(context: ZMQContext, endpoint: String) throws {
        socket = try ZMQSocket(context: context, kind: .sub)
        try socket.subscribe(Topic.counts.rawValue)
        try socket.setReceiveTimeout(milliseconds: 100)
        try socket.connect(endpoint)
    }

    /// The next `counts` message, or `nil` if none came within 100 ms.
    func next() throws -> CountsMessage? {
        do {
            guard try socket.receive(into: message) == 2 else { return nil }
        } catch {
            if error.isTimeout { return nil }
            throw error
        }
        return try JSONDecoder().decode(CountsMessage.self, from: Data(message[1].bytes))
    }
}
