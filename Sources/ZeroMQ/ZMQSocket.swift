import CZeroMQ
import Glibc

/// A libzmq socket.
///
/// libzmq sockets are not thread-safe: each is used by one thread at a time (the receive thread
/// that owns it, or callers serialised by a lock). The socket is closed exactly once, by
/// ``close()`` or at deinit, always with the linger period chosen in ``init(context:kind:linger:)``.
public final class ZMQSocket: @unchecked Sendable {
    public enum Kind: Sendable {
        case pub, sub, push, pull, req, rep

        var rawValue: Int32 {
            switch self {
            case .pub: ZMQ_PUB
            case .sub: ZMQ_SUB
            case .push: ZMQ_PUSH
            case .pull: ZMQ_PULL
            case .req: ZMQ_REQ
            case .rep: ZMQ_REP
            }
        }
    }

    private var handle: UnsafeMutableRawPointer?
    // Keeps the context alive until the socket is closed (zmq_ctx_term waits for its sockets).
    private let context: ZMQContext

    /// - Parameter linger: how long, in ms, a close may wait to deliver queued outgoing
    ///   messages. 0 for receiving sockets: a stopping daemon never waits for a dead peer.
    public init(context: ZMQContext, kind: Kind, linger: Int32 = 0) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else {
            throw ZMQError("zmq_socket")
        }
        self.handle = handle
        self.context = context
        try setOption(ZMQ_LINGER, linger, "ZMQ_LINGER")
    }

    deinit { close() }

    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    private var open: UnsafeMutableRawPointer {
        get throws(ZMQError) {
            guard let handle else { throw ZMQError("socket already closed", errno: ENOTSOCK) }
            return handle
        }
    }

    // MARK: Options (set them before bind/connect: libzmq applies most only to new connections)

    public func setOption(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        var value = value
        let socket = try open
        _ = try retryingOnEINTR("zmq_setsockopt(\(name))") {
            zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size)
        }
    }

    /// Sets a string-valued option (a key, a domain), without a terminating NUL.
    func setOption(_ option: Int32, text: String, _ name: String) throws(ZMQError) {
        var bytes = Array(text.utf8)
        let socket = try open
        _ = try retryingOnEINTR("zmq_setsockopt(\(name))") { zmq_setsockopt(socket, option, &bytes, bytes.count) }
    }

    /// Queue limit, in messages, for incoming messages per peer.
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, messages, "ZMQ_RCVHWM")
    }

    /// Queue limit, in messages, for outgoing messages per peer.
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, messages, "ZMQ_SNDHWM")
    }

    /// A receive returns a timeout error after this many ms without a message (−1: wait forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, milliseconds, "ZMQ_RCVTIMEO")
    }

    /// A blocking send returns a timeout error after this many ms (−1: wait forever).
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, milliseconds, "ZMQ_SNDTIMEO")
    }

    /// Largest accepted message part, bytes. libzmq disconnects a peer that sends a larger one
    /// before reading it into memory, so a hostile 1 GB message costs nothing.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        var value = bytes
        let socket = try open
        _ = try retryingOnEINTR("zmq_setsockopt(ZMQ_MAXMSGSIZE)") {
            zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
        }
    }

    /// SUB sockets: receive messages whose first part starts with `prefix` ("" = everything).
    public func subscribe(_ prefix: String = "") throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, text: prefix, "ZMQ_SUBSCRIBE")
    }

    // MARK: Endpoints

    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try open
        _ = try retryingOnEINTR("bind \(endpoint)") { zmq_bind(socket, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try open
        _ = try retryingOnEINTR("connect \(endpoint)") { zmq_connect(socket, endpoint) }
    }

    /// The endpoint actually bound, e.g. the port the OS chose for "tcp://127.0.0.1:*".
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            let socket = try open
            _ = try retryingOnEINTR("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
                zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size)
            }
            return String(nulTerminated: buffer)
        }
    }

    // MARK: Sending and receiving

    /// Sends one multipart message; libzmq copies the bytes.
    /// - Parameter wait: `false` returns a timeout error instead of blocking at the high-water mark.
    public func send(_ parts: [UnsafeRawBufferPointer], wait: Bool = true) throws(ZMQError) {
        for (index, part) in parts.enumerated() {
            try sendPart(part, more: index < parts.count - 1, wait: wait)
        }
    }

    /// Sends one multipart message made of byte arrays.
    public func send(_ parts: [[UInt8]], wait: Bool = true) throws(ZMQError) {
        for (index, part) in parts.enumerated() {
            // withUnsafeBytes rethrows untyped errors; carry ours out in a Result.
            try part.withUnsafeBytes { bytes in
                Result { () throws(ZMQError) in try sendPart(bytes, more: index < parts.count - 1, wait: wait) }
            }.get()
        }
    }

    private func sendPart(_ bytes: UnsafeRawBufferPointer, more: Bool, wait: Bool) throws(ZMQError) {
        let socket = try open
        let flags = (more ? ZMQ_SNDMORE : 0) | (wait ? 0 : ZMQ_DONTWAIT)
        _ = try retryingOnEINTR("zmq_send") { zmq_send(socket, bytes.baseAddress, bytes.count, flags) }
    }

    /// Receives one whole multipart message into `parts`, reusing its messages.
    ///
    /// Parts beyond `parts.count` are read and discarded (a message is always consumed whole,
    /// so the stream stays in step), and counted in the result.
    /// - Returns: the number of parts the message had.
    /// - Throws: ``ZMQError`` with ``ZMQError/isTimeout`` when nothing arrived in time.
    public func receive(into parts: [ZMQMessage]) throws(ZMQError) -> Int {
        precondition(!parts.isEmpty)
        let socket = try open
        var count = 0
        var message = parts[0]
        while true {
            let target = message.pointer
            _ = try retryingOnEINTR("zmq_msg_recv") { zmq_msg_recv(target, socket, 0) }
            count += 1
            guard message.hasMore else { return count }
            // libzmq delivers all parts of a message atomically once the first has arrived.
            message = count < parts.count ? parts[count] : parts[parts.count - 1]
        }
    }
}
