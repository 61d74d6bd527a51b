import Logging
import ServiceLifecycle

/// Serves the control socket until the graceful shutdown. It stops before the pipeline drains,
/// so that no command (a new run, a model swap) interleaves with the shutdown.
struct ControlService: Service {
    let server: ControlServer
    let logger: Logger

    func run() async throws {
        server.start()
        logger.info("control on \(server.endpoint)")
        try? await gracefulShutdown()
        await runOffCooperativePool { server.stop() }
    }
}
