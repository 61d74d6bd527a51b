import Protocol
import ZeroMQ

/// A camera on the network: sends frame message v1 (`[JSON header, raw pixels]`, the pyzmq
/// `send_array` layout) on a PUB or PUSH socket. The simulator and the demo are cameras too.
final class FramePublisher {
    enum Kind: String, CaseIterable {
        case pub, push
    }

    private let socket: ZMQSocket

    /// Queues at most 100 frames per peer, and waits up to 2 s at close to deliver them.
    /// - Parameter curve: this camera's key pair and flowd's public key, when flowd has
    ///   CurveZMQ on.
    init(
        context: ZMQContext, kind: Kind, endpoint: String, bind: Bool, curve: (keys: CurveKeyPair, serverKey: String)? = nil
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: kind == .pub ? .pub : .push, linger: 2000)
        try socket.setSendHighWaterMark(100)
        if let curve { try socket.makeCurveClient(keys: curve.keys, serverKey: curve.serverKey) }
        if bind { try socket.bind(endpoint) } else { try socket.connect(endpoint) }
    }

    /// Sends one frame; blocks while a PUSH peer's queue is full (a PUB socket drops instead,
    /// as a real camera's would).
    func send(_ frame: Frame) throws {
        let header = frame.header.jsonBytes()
        try header.withUnsafeBytes { headerBytes in
            try frame.pixels.withUnsafeBytes { pixelBytes in try socket.send([headerBytes, pixelBytes]) }
        }
    }
}
