import CZeroMQ
import Foundation
import Protocol

/// Receives frame message v1 from a camera on a ZeroMQ PULL or SUB socket (libzmq's C API),
/// for `flowd extract --stream`. Malformed messages are skipped and counted, as the daemon's
/// ingest does; they never stop the extraction.
final class CameraSubscriber {
    enum Kind: String, CaseIterable {
        case pull, sub
    }

    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer
    private let limits = FrameLimits()
    /// Messages that were not valid frames.
    private(set) var malformed = 0

    /// `timeoutSeconds`: how long `next()` waits for a frame before it reports the stream's end.
    init(kind: Kind, endpoint: String, bind: Bool, timeoutSeconds: Double) throws {
        guard let context = zmq_ctx_new() else { throw Self.error("zmq_ctx_new") }
        guard let socket = zmq_socket(context, kind == .pull ? ZMQ_PULL : ZMQ_SUB) else {
            zmq_ctx_term(context)
            throw Self.error("zmq_socket")
        }
        self.context = context
        self.socket = socket
        var timeout = Int32(min(timeoutSeconds * 1000, Double(Int32.max))), linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, MemoryLayout<Int32>.size)
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        if kind == .sub { zmq_setsockopt(socket, ZMQ_SUBSCRIBE, "", 0) }
        let rc = bind ? zmq_bind(socket, endpoint) : zmq_connect(socket, endpoint)
        guard rc == 0 else { throw Self.error("\(bind ? "bind" : "connect") \(endpoint)") }
    }

    deinit {
        zmq_close(socket)
        zmq_ctx_term(context)
    }

    /// The next valid frame, or nil when none arrived within the timeout.
    func next() throws -> Frame? {
        while true {
            guard let parts = try receiveMessage() else { return nil }
            guard parts.count == 2 else {
                malformed += 1
                continue
            }
            let frame: Frame? = parts[0].withUnsafeBytes { header in
                parts[1].withUnsafeBytes { pixels in try? Frame(parts: [header, pixels], limits: limits) }
            }
            if let frame { return frame }
            malformed += 1
        }
    }

    /// All parts of one multipart message, or nil on timeout.
    private func receiveMessage() throws -> [[UInt8]]? {
        var parts: [[UInt8]] = []
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            while zmq_msg_recv(&message, socket, 0) < 0 {
                let code = zmq_errno()
                if code == EAGAIN { return nil }
                guard code == EINTR else { throw Self.error("zmq_msg_recv") }
            }
            let size = zmq_msg_size(&message)
            parts.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: size)))
            if zmq_msg_more(&message) == 0 { return parts }
        }
    }

    private static func error(_ what: String) -> HologramFileError {
        HologramFileError("ZeroMQ \(what): \(String(cString: zmq_strerror(zmq_errno())))")
    }
}
