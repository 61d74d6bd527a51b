import Logging
import ServiceLifecycle

/// A server that answers on its own thread between ``start()`` and ``stop()``: the control socket.
protocol BackgroundServer: Sendable {
    /// Where it answers, for the log line at start.
    var address: String { get }
    func start()
    /// Returns once the server's thread has finished.
    func stop()
}

/// Runs a ``BackgroundServer`` until the graceful shutdown. Its place in the service group
/// decides when it stops relative to the others (``Daemon``): the control socket stops before
/// the pipeline drains, so that no command (a new run, a model swap) interleaves with the
/// shutdown.
struct BackgroundServerService<Server: BackgroundServer>: Service {
    /// What it serves, for the log ("control").
    let name: String
    let server: Server
    let logger: Logger

    func run() async throws {
        server.start()
        logger.info("\(name) on \(server.address)")
        try? await gracefulShutdown()
        await runOffCooperativePool { server.stop() }
    }
}

extension ControlServer: BackgroundServer {
    var address: String { endpoint }
}
