import ServiceLifecycle
import ZeroMQ

/// Answers CurveZMQ handshakes (the ``ZAPHandler``) until the graceful shutdown. It is the first
/// service of the group, so it stops last: every socket it vouches for is closed before it is.
struct AccessService: Service {
    let handler: ZAPHandler

    func run() async throws {
        handler.start()
        try? await gracefulShutdown()
        await runOffCooperativePool { handler.stop() }
    }
}
