import CZeroMQ
import Foundation
import Protocol

/// The twin as a camera on the network: frame message v1 (`[JSON header, raw pixels]`, the
/// pyzmq `send_array` layout) on a ZeroMQ PUB or PUSH socket, straight on libzmq's C API.
/// (The daemon's own wrapper lives in the FrameIngest work; this sender needs only
/// socket, bind/connect and a two-part send.)
final class CameraPublisher {
    enum Kind: String, CaseIterable {
        case pub, push
    }

    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer

    init(kind: Kind, endpoint: String, bind: Bool) throws {
        guard let context = zmq_ctx_new() else { throw Self.error("zmq_ctx_new") }
        guard let socket = zmq_socket(context, kind == .pub ? ZMQ_PUB : ZMQ_PUSH) else {
            zmq_ctx_term(context)
            throw Self.error("zmq_socket")
        }
        self.context = context
        self.socket = socket
        // Wait up to 2 s at exit for queued frames; queue at most 100 frames per peer.
        var linger: Int32 = 2000, highWater: Int32 = 100
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_setsockopt(socket, ZMQ_SNDHWM, &highWater, MemoryLayout<Int32>.size)
        let rc = bind ? zmq_bind(socket, endpoint) : zmq_connect(socket, endpoint)
        guard rc == 0 else { throw Self.error("\(bind ? "bind" : "connect") \(endpoint)") }
    }

    deinit {
        zmq_close(socket)
        zmq_ctx_term(context)
    }

    /// Sends one frame as a two-part message; blocks while a PUSH peer's queue is full (a PUB
    /// socket drops instead, as a camera would).
    func send(_ frame: Frame) throws {
        let header = frame.header.jsonBytes()
        try header.withUnsafeBytes { try part($0, more: true) }
        try frame.pixels.withUnsafeBytes { try part($0, more: false) }
    }

    private func part(_ bytes: UnsafeRawBufferPointer, more: Bool) throws {
        while zmq_send(socket, bytes.baseAddress, bytes.count, more ? ZMQ_SNDMORE : 0) < 0 {
            // A signal interrupted the call: retry; anything else is an error.
            guard zmq_errno() == EINTR else { throw Self.error("zmq_send") }
        }
    }

    private static func error(_ what: String) -> HologramFileError {
        HologramFileError("ZeroMQ \(what): \(String(cString: zmq_strerror(zmq_errno())))")
    }
}
