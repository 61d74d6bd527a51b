import Protocol
import ZeroMQ

/// A camera on the network: sends frame message v1 (`[JSON header, raw pixels]`, the pyzmq
/// `send_array` layout) on a PUB or PUSH socket. The simulator is a camera too.
public final class FramePublisher {
    public enum Kind: String, CaseIterable, Sendable {
        case pub, push
    }

    private let socket: ZMQSocket

    /// Queues at most 100 frames per peer, and waits up to 2 s at close to deliver them.
    /// - Parameter curve: this camera's key pair and flowd's public key, when flowd has
    ///   CurveZMQ on.
    init(
        context: ZMQContext, kind: Kind, endpoint: String, bind: Bool, curve: CurveClientKeys? = nil
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: kind == .pub ? .pub : .push, linger: 2000)
        try socket.setSendHighWaterMark(100)
        // A blocked send wakes up this often to ask whether to give up (see send).
        try socket.setSendTimeout(milliseconds: 200)
        if let curve { try socket.makeCurveClient(keys: curve.keys, serverKey: curve.serverKey) }
        if bind { try socket.bind(endpoint) } else { try socket.connect(endpoint) }
    }

    /// Sends one frame. A PUSH socket waits while its peer's queue is full or no peer is
    /// connected (a PUB socket drops instead, as a real camera's would), asking `giveUp` every
    /// 200 ms; returns `false` when it gave up and the frame was not sent.
    func send(_ frame: Frame, giveUp: () -> Bool) throws -> Bool {
        let header = frame.header.jsonBytes()
        while true {
            do {
                try header.withUnsafeBytes { headerBytes in
                    try frame.pixels.withUnsafeBytes { pixelBytes in try socket.send([headerBytes, pixelBytes]) }
                }
                return true
            } catch let error as ZMQError where error.isTimeout {
                // Nothing went out: libzmq accepts a multipart message whole or not at all.
                if giveUp() { return false }
            }
        }
    }
}
