import Logging
import ServiceLifecycle

/// Serves `/metrics` and `/healthz` until the graceful shutdown.
struct MetricsService: Service {
    let server: MetricsServer
    let logger: Logger

    func run() async throws {
        server.start()
        logger.info("metrics on http://127.0.0.1:\(server.port)/metrics")
        try? await gracefulShutdown()
        await runOffCooperativePool { server.stop() }
    }
}
