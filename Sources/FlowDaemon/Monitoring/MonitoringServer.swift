import Dashboard
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The monitoring port (`metrics.listen`), served by Hummingbird: `GET /metrics` (Prometheus
/// text), `GET /healthz`, and the live dashboard (`/`, its assets, `/api/status` and the
/// server-sent events of `/api/events`).
///
/// It is read-only: any method but GET and HEAD is answered 405, and nothing here changes the
/// daemon (control stays on the control socket). It runs as a service of the daemon's service
/// group; at the graceful shutdown every live feed ends and its connection is closed, so that a
/// page that stopped reading cannot hold the shutdown up. At most 16 connections at once: a
/// handful of pages and scrapers, never a crowd.
struct MonitoringServer: Service {
    struct Health: Sendable {
        var healthy: Bool
        var detail: String
    }

    enum ServerError: Error, CustomStringConvertible {
        case address(String)
        /// The server stopped with an error (a port in use, typically), naming `metrics.listen`.
        case serving(String, any Error)

        var description: String {
            switch self {
            case .address(let text): "metrics.listen must be HOST:PORT with a numeric IPv4 host, got \"\(text)\""
            case .serving(let listen, let error): "metrics.listen \(listen): \(error)"
            }
        }
    }

    private let listen: String
    private let app: Application<RouterResponder<MonitoringRequestContext>>

    /// Serves on `HOST:PORT` (port 0: any free port, told to `onRunning`). Binding happens when
    /// the service runs; a port in use ends the service group with the bind error.
    /// - Parameters:
    ///   - token: when set, every request must carry it (``AccessTokenMiddleware``).
    ///   - onRunning: called with the bound port once the server accepts connections.
    init(
        listen address: String, token: String? = nil, metrics: @escaping @Sendable () -> String,
        health: @escaping @Sendable () -> Health, dashboard: DashboardSource?, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(ServerError) {
        let (host, port) = try Self.parse(address)
        listen = address
        let router = Router(context: MonitoringRequestContext.self)
        router.add(middleware: ReadOnlyMiddleware<MonitoringRequestContext>())
        if let token { router.add(middleware: AccessTokenMiddleware<MonitoringRequestContext>(token: token)) }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics())))
        }
        router.get("healthz") { _, _ in
            let health = health()
            return Response(
                status: health.healthy ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: health.detail + "\n")))
        }
        if let dashboard { Self.addDashboard(dashboard, to: router) }
        app = Application(
            router: router,
            configuration: .init(
                address: .hostname(host, port: port), serverName: nil,
                availableConnectionsDelegate: MaximumAvailableConnections(16)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    func run() async throws {
        do { try await app.run() } catch { throw ServerError.serving(listen, error) }
    }

    private static func addDashboard(_ dashboard: DashboardSource, to router: Router<MonitoringRequestContext>) {
        for (path, asset) in DashboardAssets.byPath {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
            }
        }
        router.get("api/status") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardUpdate.json(dashboard.status()))))
        }
        router.get("api/events") { _, context in
            let channel = context.channel
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    let stopping = ShutdownFlag()
                    try await withGracefulShutdownHandler {
                        var cursor: UInt64 = 0
                        while !stopping.isSet {
                            try await writer.write(ByteBuffer(string: dashboard.event(after: &cursor)))
                            try await Task.sleep(for: dashboard.interval)
                        }
                    } onGracefulShutdown: {
                        stopping.set()
                        // A page that stopped reading leaves its write suspended: closing fails it.
                        channel.close(promise: nil)
                    }
                    try await writer.finish(nil)
                })
        }
    }

    /// `HOST:PORT` with a numeric IPv4 host, as `metrics.listen` is validated.
    private static func parse(_ address: String) throws(ServerError) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw .address(address)
        }
        let host = String(address[..<colon])
        var parsed = in_addr()
        guard inet_pton(AF_INET, host, &parsed) == 1 else { throw .address(address) }
        return (host, Int(port))
    }
}

/// Hummingbird's basic context, plus the connection, which a live feed closes at shutdown.
struct MonitoringRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Set once, at the graceful shutdown.
private final class ShutdownFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
