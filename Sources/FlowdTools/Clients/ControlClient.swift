import FlowDaemon
import Foundation
import Protocol
import ZeroMQ

/// `flowd control`'s side of the control socket (docs/operations.md): one request to a running
/// daemon, one JSON reply.
public struct ControlClient {
    /// No reply came in time: flowd is not running there, or (with CurveZMQ) it refused this
    /// client's key, which a CurveZMQ server answers with silence.
    public struct NoReply: Error, CustomStringConvertible {
        public let description: String
    }

    /// The daemon's control endpoint (control.endpoint).
    public var connect: String
    /// Seconds to wait for the reply (a model reload loads and checks the file first).
    public var timeout: Double
    public var curve: CurveClientKeys?

    public init(connect: String, timeout: Double, curve: CurveClientKeys?) {
        (self.connect, self.timeout, self.curve) = (connect, timeout, curve)
    }

    /// Sends `request` and returns the reply's JSON bytes.
    public func send(_ request: ControlRequest) throws -> [UInt8] {
        let context = ZMQContext()
        defer { context.terminate() }
        let socket = try ZMQSocket(context: context, kind: .req)
        defer { socket.close() }
        try socket.setReceiveTimeout(milliseconds: Int32(min(timeout * 1000, Double(Int32.max))))
        if let curve { try socket.makeCurveClient(keys: curve.keys, serverKey: curve.serverKey) }
        try socket.connect(connect)
        try socket.send([request.jsonBytes])
        let reply = ZMQMessage()
        do {
            _ = try socket.receive(into: [reply])
        } catch {
            let check = curve == nil ? "" : ", with this key on its curve.controller_keys"
            throw NoReply(
                description: error.isTimeout
                    ? "no reply within \(timeout) s (is flowd running with control.endpoint \(connect)\(check)?)" : "\(error)")
        }
        return Array(reply.bytes)
    }

    /// Whether a reply says `"ok": true`.
    public static func isOK(_ reply: [UInt8]) -> Bool {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(reply)) else { return false }
        return fields["ok"] == .bool(true)
    }
}
