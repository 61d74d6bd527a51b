import Dashboard
import Foundation
import Glibc
import Logging
import Prometheus
import Protocol
import ServiceLifecycle
import Synchronization
import Testing

@testable import FlowDaemon

/// Sends one raw HTTP request to 127.0.0.1:`port` and returns what arrives until the server
/// closes the connection, or `until` is seen. The blocking socket calls run on a thread of
/// their own: on the cooperative pool (two threads on two cores) they could starve the
/// server's handlers, which run there too.
private func http(_ request: String, port: Int, until marker: String? = nil) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try blockingHTTP(request, port: port, until: marker) })
        }
    }
}

private func blockingHTTP(_ request: String, port: Int, until marker: String?) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0)
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[..<n]
        if let marker, String(decoding: response, as: UTF8.self).contains(marker) { break }
    }
    return String(decoding: response, as: UTF8.self)
}

/// `GET path` that asks the server to close the connection after the response (HTTP/1.1
/// connections are kept alive otherwise).
private func get(_ path: String, _ headers: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(headers)\r\n"
}

/// Runs `server` in a service group for the duration of `body`, then shuts it down gracefully.
private func serving(
    _ make: (@escaping @Sendable (Int) async -> Void) throws -> MonitoringServer, _ body: (Int) async throws -> Void
) async throws {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let server = try make { continuation.yield($0) }
    let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port)
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

private let logger = Logger(label: "test")

@Suite("The monitoring port")
struct MonitoringServerTests {
    @Test("GET /metrics returns the Prometheus text, /healthz the health, anything else an error status")
    func routes() async throws {
        let healthy = Mutex(true)
        try await serving({ onRunning in
            try MonitoringServer(
                listen: "127.0.0.1:0", metrics: { "# TYPE x counter\nx 1\n" },
                health: {
                    let value = healthy.withLock { $0 }
                    return .init(healthy: value, detail: value ? "ok" : "receiver stuck")
                }, dashboard: nil, logger: logger, onRunning: onRunning)
        }) { port in
            let metrics = try await http(get("/metrics"), port: port)
            #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(metrics.lowercased().contains("content-type: text/plain; version=0.0.4"))
            #expect(metrics.hasSuffix("\r\n\r\n# TYPE x counter\nx 1\n"))
            #expect(try await http(get("/healthz"), port: port).hasSuffix("ok\n"))
            healthy.withLock { $0 = false }
            #expect(try await http(get("/healthz"), port: port).hasPrefix("HTTP/1.1 503"))
            #expect(try await http(get("/admin"), port: port).hasPrefix("HTTP/1.1 404"))
            #expect(try await http(get("/"), port: port).hasPrefix("HTTP/1.1 404"))  // no dashboard configured
            #expect(try await http("DELETE /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", port: port).hasPrefix("HTTP/1.1 405"))
        }
    }

    @Test("a listen address that is not IPV4:PORT is refused")
    func badAddress() {
        for address in ["localhost:9464", "127.0.0.1", "127.0.0.1:99999"] {
            #expect(throws: MonitoringServer.ServerError.self) {
                try MonitoringServer(listen: address, metrics: { "" }, health: { .init(healthy: true, detail: "") }, dashboard: nil, logger: logger)
            }
        }
    }

    @Test("a port in use ends the service with an error that names metrics.listen")
    func portInUse() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(listening)
        let endpoint = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        let server = try MonitoringServer(listen: endpoint, metrics: { "" }, health: { .init(healthy: true, detail: "") }, dashboard: nil, logger: logger)
        let error = await #expect(throws: MonitoringServer.ServerError.self) { try await server.run() }
        #expect(error?.description.hasPrefix("metrics.listen \(endpoint): ") == true)
    }

    @Test("the dashboard: the page and its assets from the binary, the status, and a live feed of the new cells")
    func dashboard() async throws {
        let feed = CellFeed()
        let source = DashboardSource(feed: feed, status: { .object(["run_id": .string("R1")]) }, interval: .milliseconds(50))
        try await serving({ onRunning in
            try MonitoringServer(
                listen: "127.0.0.1:0", metrics: { "" }, health: { .init(healthy: true, detail: "ok") }, dashboard: source,
                logger: logger, onRunning: onRunning)
        }) { port in
            let page = try await http(get("/"), port: port)
            #expect(page.hasPrefix("HTTP/1.1 200") && page.lowercased().contains("content-type: text/html"))
            for id in ["counts", "dotplot", "gallery"] { #expect(page.contains("id=\"\(id)\"")) }
            #expect(try await http(get("/dashboard.js"), port: port).contains("EventSource"))
            #expect(try await http(get("/api/status"), port: port).hasSuffix("{\"run_id\":\"R1\"}"))
            feed.offer(cellMessage(label: "T", dryMassPg: 20, areaUm2: 40), crop: [Float](repeating: 5, count: 16))
            let events = try await http(get("/api/events"), port: port, until: "\"points\":[{")
            #expect(events.lowercased().contains("content-type: text/event-stream"))
            #expect(events.contains("event: update\ndata: {\"crops\":[{\"codes\":"))
            #expect(events.contains("\"points\":[{\"a\":40,\"l\":\"T\",\"m\":20}]"))
        }
    }

    @Test("the graceful shutdown ends live feeds that are still open", .timeLimit(.minutes(1)))
    func shutdownWithOpenFeed() async throws {
        let source = DashboardSource(feed: CellFeed(), status: { .null }, interval: .milliseconds(50))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        try await serving({ onRunning in
            try MonitoringServer(
                listen: "127.0.0.1:0", metrics: { "" }, health: { .init(healthy: true, detail: "ok") }, dashboard: source,
                logger: logger, onRunning: onRunning)
        }) { port in
            // A client that opens the feed and never reads it.
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            _ = get("/api/events").withCString { send(fd, $0, strlen($0), 0) }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Reaching here is the test: serving() returned after the shutdown.
    }

    @Test("with a token, requests need it: a bearer header, the cookie, or ?token= once (redirect and cookie); else 401")
    func token() async throws {
        let token = String(repeating: "ab12", count: 8)
        try await serving({ onRunning in
            try MonitoringServer(
                listen: "127.0.0.1:0", token: token, metrics: { "x 1\n" }, health: { .init(healthy: true, detail: "ok") },
                dashboard: nil, logger: logger, onRunning: onRunning)
        }) { port in
            #expect(try await http(get("/metrics"), port: port).hasPrefix("HTTP/1.1 401"))
            #expect(try await http(get("/healthz"), port: port).hasPrefix("HTTP/1.1 401"))
            #expect(try await http(get("/metrics", "Authorization: Bearer wrong\r\n"), port: port).hasPrefix("HTTP/1.1 401"))
            #expect(try await http(get("/metrics", "Authorization: Bearer \(token)\r\n"), port: port).hasSuffix("\r\n\r\nx 1\n"))
            let redirect = try await http(get("/metrics?token=\(token)"), port: port).lowercased()
            #expect(redirect.hasPrefix("http/1.1 303"))
            #expect(redirect.contains("location: /metrics\r\n"))
            #expect(redirect.contains("set-cookie: flowd_token=\(token);") && redirect.contains("httponly"))
            #expect(try await http(get("/metrics", "Cookie: flowd_token=\(token)\r\n"), port: port).hasSuffix("\r\n\r\nx 1\n"))
        }
    }

    @Test("beyond loopback the token file is required; a token file must hold a long token")
    func tokenFile() throws {
        #expect(try AccessToken.forListen("127.0.0.1:9464", tokenFile: nil) == nil)
        #expect(throws: AccessToken.LoadError.self) { try AccessToken.forListen("0.0.0.0:9464", tokenFile: nil) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowd-token-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good"), short = directory.appendingPathComponent("short")
        try Data((String(repeating: "0f", count: 32) + "\n").utf8).write(to: good)
        try Data("secret\n".utf8).write(to: short)
        #expect(try AccessToken.forListen("0.0.0.0:9464", tokenFile: good.path) == String(repeating: "0f", count: 32))
        #expect(throws: AccessToken.LoadError.self) { try AccessToken.load(path: short.path) }
        #expect(throws: AccessToken.LoadError.self) { try AccessToken.load(path: directory.appendingPathComponent("none").path) }
    }
}

@Suite("Stage latencies")
struct LatencyHistogramTests {
    @Test("each observation lands in the stage's cumulative Prometheus buckets, +Inf, sum and count")
    func exposition() {
        let registry = PrometheusCollectorRegistry()
        let histogram = LatencyHistogram(stage: "frame", registry: registry)
        histogram.observe(nanoseconds: 200_000)  // 0.2 ms
        histogram.observe(nanoseconds: 20_000_000_000)  // 20 s, beyond every bound
        let text = registry.emitToString()
        #expect(text.contains("# TYPE flowd_stage_seconds histogram\n"))
        #expect(text.contains("flowd_stage_seconds_bucket{stage=\"frame\",le=\"0.0001\"} 0\n"))
        #expect(text.contains("flowd_stage_seconds_bucket{stage=\"frame\",le=\"0.00025\"} 1\n"))
        #expect(text.contains("flowd_stage_seconds_bucket{stage=\"frame\",le=\"10.0\"} 1\n"))
        #expect(text.contains("flowd_stage_seconds_bucket{stage=\"frame\",le=\"+Inf\"} 2\n"))
        #expect(text.contains("flowd_stage_seconds_sum{stage=\"frame\"} 20.0002\n"))
        #expect(text.contains("flowd_stage_seconds_count{stage=\"frame\"} 2\n"))
        #expect(histogram.count == 2)
    }

    @Test("percentiles come from the HdrHistogram, to its 3 significant digits")
    func percentiles() {
        let histogram = LatencyHistogram(stage: "frame", registry: PrometheusCollectorRegistry())
        #expect(histogram.seconds(atPercentile: 50) == nil)
        for milliseconds in 1...100 { histogram.observe(nanoseconds: UInt64(milliseconds) * 1_000_000) }
        let p50 = histogram.seconds(atPercentile: 50) ?? 0, p99 = histogram.seconds(atPercentile: 99) ?? 0
        #expect(abs(p50 - 0.050) <= 0.050 * 1e-3)
        #expect(abs(p99 - 0.099) <= 0.099 * 1e-3)
    }
}

@Suite("Mirrored Prometheus counters")
struct PrometheusMirrorTests {
    @Test("a counter follows its source's total, and a source that restarts from zero resets it")
    func counterFollowsItsSource() {
        let mirror = PrometheusMirror(registry: PrometheusCollectorRegistry())
        mirror.counter("flowd_cells_total", help: "Cells.", [("class", "a\"b\\c")], total: 5)
        #expect(mirror.exposition().contains("flowd_cells_total{class=\"a\\\"b\\\\c\"} 5\n"))
        mirror.counter("flowd_cells_total", help: "Cells.", [("class", "a\"b\\c")], total: 12)
        #expect(mirror.exposition().contains("} 12\n"))
        mirror.counter("flowd_cells_total", help: "Cells.", [("class", "a\"b\\c")], total: 3)  // a new run
        #expect(mirror.exposition().contains("} 3\n"))
        #expect(mirror.exposition().contains("# HELP flowd_cells_total Cells.\n# TYPE flowd_cells_total counter\n"))
    }
}

/// A cell message with the features the dashboard plots.
func cellMessage(label: String, dryMassPg: Double, areaUm2: Double, camera: String = "cam", cellID: UInt64 = 0) -> CellMessage {
    CellMessage(
        camera: camera, cellID: cellID, seq: nil, tNanoseconds: nil, xPixels: 0, yPixels: 0, bbox: [0, 0, 1, 1], label: label,
        probabilities: [:], features: ["dry_mass_pg": dryMassPg, "area_um2": areaUm2], framesSeen: 1, latencyMilliseconds: 0)
}
