import CZeroMQ
import Synchronization
import SystemSupport

/// The context's ZeroMQ Authentication Protocol handler (ZAP, RFC 27): admits a CurveZMQ client
/// only if its public key is on the allow-list of the domain its server socket was given
/// (``ZMQSocket/makeCurveServer(keys:domain:)``), and refuses everything else.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` of the socket's context during
/// every handshake of a socket with a security mechanism. With no handler bound, a CURVE server
/// admits any client that knows its public key; so the handler is bound in ``init``, before any
/// server socket exists, and a handshake that arrives before ``start()`` just waits for it.
/// Answers come from one ``BackgroundThread`` that turns at least every 100 ms, like the frame
/// receivers.
public final class ZAPHandler: Sendable {
    /// A handshake the handler answered.
    public struct Decision: Sendable {
        public let domain: String
        /// The client's IP address, as libzmq reports it.
        public let address: String
        /// The client's public key (Z85), or its mechanism name when it did not use CURVE.
        public let client: String
        public let admitted: Bool
    }

    /// Handshakes admitted and refused per domain, since start.
    public struct Tally: Sendable, Equatable {
        public var admitted: UInt64 = 0
        public var refused: UInt64 = 0

        public init(admitted: UInt64 = 0, refused: UInt64 = 0) {
            self.admitted = admitted
            self.refused = refused
        }
    }

    public static let endpoint = "inproc://zeromq.zap.01"

    private let socket: ZMQSocket
    private let allowed: [String: Set<String>]
    private let report: @Sendable (Decision) -> Void
    private let tallies = Mutex<[String: Tally]>([:])
    private let thread = BackgroundThread(name: "flowd-zap")

    /// Binds the handler in `context`.
    /// - Parameters:
    ///   - allowed: per domain, the Z85 public keys of the clients to admit. A domain that is not
    ///     listed admits no one.
    ///   - report: called on the handler's thread with every decision (to log refusals).
    public init(
        context: ZMQContext, allowed: [String: Set<String>], report: @escaping @Sendable (Decision) -> Void = { _ in }
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .rep)
        try socket.setReceiveTimeout(milliseconds: 100)
        try socket.bind(Self.endpoint)
        self.allowed = allowed
        self.report = report
    }

    public func start() {
        thread.start { [self] in run() }
    }

    /// Stops answering and closes the socket (before the context is terminated); waits for the
    /// thread when it was started.
    public func stop() {
        if !thread.stop() { socket.close() }
    }

    public func tally() -> [String: Tally] { tallies.withLock { $0 } }

    private func run() {
        // version, request id, domain, address, routing id, mechanism, credentials.
        let parts = (0..<7).map { _ in ZMQMessage() }
        while !thread.isStopping {
            let count: Int
            do { count = try socket.receive(into: parts) } catch {
                if error.isTimeout { continue }
                break
            }
            let reply = answer(parts, count: count)
            do { try socket.send(reply) } catch { if error.isTerminated { break } }
        }
        socket.close()
    }

    /// The reply frames to one request: version, request id, status code and text, user id, metadata.
    private func answer(_ parts: [ZMQMessage], count: Int) -> [[UInt8]] {
        func text(_ i: Int) -> String { i < count ? String(decoding: parts[i].bytes, as: UTF8.self) : "" }
        let requestID = count > 1 ? Array(parts[1].bytes) : []
        guard count >= 6, text(0) == "1.0" else {
            return [Array("1.0".utf8), requestID, Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let domain = text(2), mechanism = text(5)
        let key = mechanism == "CURVE" && count == 7 ? CurveKeyPair.z85(parts[6].bytes) : nil
        let admitted = key.map { allowed[domain]?.contains($0) == true } ?? false
        tallies.withLock { tallies in
            var tally = tallies[domain] ?? Tally()
            if admitted { tally.admitted += 1 } else { tally.refused += 1 }
            tallies[domain] = tally
        }
        report(Decision(domain: domain, address: text(3), client: key ?? mechanism, admitted: admitted))
        let (code, status) = admitted ? ("200", "OK") : ("400", "client key not allowed in \(domain)")
        return [Array("1.0".utf8), requestID, Array(code.utf8), Array(status.utf8), Array((key ?? "").utf8), []]
    }
}
