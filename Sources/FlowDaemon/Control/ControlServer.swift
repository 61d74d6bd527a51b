import Dispatch
import Foundation
import Logging
import Protocol
import Synchronization
import SystemSupport
import ZeroMQ

/// The control socket: a bound ZeroMQ REP socket served by one thread, one request at a time
/// (`control.endpoint`; commands in ``ControlRequest``, answered by ``DaemonControl``).
///
/// Every request gets exactly one reply, so the REP socket never stays waiting for a send: a
/// request that is not one JSON part (several parts, not JSON, an unknown command, wrong
/// types) is answered `ok: false` with the reason. Requests larger than
/// ``ControlRequest/maxBytes`` make libzmq drop the sender's connection before reading them.
final class ControlServer: Sendable {
    let endpoint: String
    private let socket: ZMQSocket
    private let control: DaemonControl
    private let logger: Logger
    private let thread = BackgroundThread(name: "flowd-control")

    /// The ZAP domain of the control socket when CurveZMQ is on: the allow-list of controller
    /// keys, apart from the subscribers', so that watching never implies controlling.
    static let curveDomain = "controllers"

    /// Binds the socket, so that a bad or taken endpoint fails at start-up.
    /// - Parameter curve: flowd's key pair, to be the CurveZMQ server (``curveDomain``): a client
    ///   whose key is not on that allow-list never gets a request through, so it gets no reply
    ///   and changes nothing.
    init(
        endpoint: String, context: ZMQContext, control: DaemonControl, logger: Logger, curve: CurveKeyPair? = nil
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .rep)
        try socket.setMaxMessageSize(Int64(ControlRequest.maxBytes))
        if let curve { try socket.makeCurveServer(keys: curve, domain: Self.curveDomain) }
        try socket.setReceiveTimeout(milliseconds: 100)
        try socket.setSendTimeout(milliseconds: 1000)
        try socket.bind(endpoint)
        self.endpoint = try socket.lastEndpoint
        self.control = control
        self.logger = logger
    }

    func start() {
        thread.start { [self] in serve() }
    }

    /// Stops after the request in progress (if any) is answered, and closes the socket.
    func stop() {
        if !thread.stop() { socket.close() }
    }

    private func serve() {
        defer { socket.close() }
        let parts = [ZMQMessage(), ZMQMessage()]
        while !thread.isStopping {
            let partCount: Int
            do {
                partCount = try socket.receive(into: parts)
            } catch {
                if error.isTimeout { continue }
                if error.isTerminated { break }
                logger.error("control socket \(endpoint): receive failed: \(error)")
                continue
            }
            let reply = answer(parts[0].bytes, partCount: partCount)
            do { try socket.send([reply]) } catch {
                logger.warning("control socket \(endpoint): reply not sent: \(error)")
            }
        }
    }

    private func answer(_ bytes: UnsafeRawBufferPointer, partCount: Int) -> [UInt8] {
        guard partCount == 1 else {
            return ControlReply.failure("request has \(partCount) parts; send one JSON part such as {\"command\": \"status\"}")
        }
        let request: ControlRequest
        do {
            request = try ControlRequest(json: Array(bytes))
        } catch {
            logger.warning("control socket \(endpoint): refused: \(error)")
            return ControlReply.failure(error.description)
        }
        logger.info("control: \(request.command.rawValue)\(request.path.map { " \($0)" } ?? "")")
        return control.handle(request)
    }
}
