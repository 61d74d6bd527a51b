import Foundation
import Glibc
import Testing

@testable import FlowDaemon

/// Sends one raw HTTP request to 127.0.0.1:`port` and returns the whole response.
private func http(_ request: String, port: Int) throws -> String {
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
    }
    return String(decoding: response, as: UTF8.self)
}

@Suite("The monitoring port")
struct MetricsServerTests {
    @Test("GET /metrics returns the Prometheus text, /healthz the health, anything else an error status")
    func routes() throws {
        let healthy = LockedFlag(true)
        let server = try MetricsServer(listen: "127.0.0.1:0", metrics: { "# TYPE x counter\nx 1\n" }) {
            .init(healthy: healthy.value, detail: healthy.value ? "ok" : "receiver stuck")
        }
        server.start()
        defer { server.stop() }
        let metrics = try http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: server.port)
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(metrics.hasSuffix("\r\n\r\n# TYPE x counter\nx 1\n"))
        #expect(try http("GET /healthz HTTP/1.1\r\n\r\n", port: server.port).hasSuffix("ok\n"))
        healthy.value = false
        #expect(try http("GET /healthz HTTP/1.1\r\n\r\n", port: server.port).hasPrefix("HTTP/1.1 503"))
        #expect(try http("GET /admin HTTP/1.1\r\n\r\n", port: server.port).hasPrefix("HTTP/1.1 404"))
        #expect(try http("DELETE /metrics HTTP/1.1\r\n\r\n", port: server.port).hasPrefix("HTTP/1.1 405"))
    }

    @Test("a listen address that is not IPV4:PORT is refused")
    func badAddress() {
        for address in ["localhost:9464", "127.0.0.1", "127.0.0.1:99999"] {
            #expect(throws: MetricsServer.ServerError.self) {
                try MetricsServer(listen: address, metrics: { "" }) { .init(healthy: true, detail: "") }
            }
        }
    }
}

@Suite("Prometheus text format")
struct PrometheusTextTests {
    @Test("label values are escaped and histograms are cumulative with +Inf, sum and count")
    func rendering() {
        let histogram = LatencyHistogram()
        histogram.observe(nanoseconds: 200_000)  // 0.2 ms
        histogram.observe(nanoseconds: 20_000_000_000)  // 20 s, beyond every bound
        var text = PrometheusText()
        text.sample("m", [("camera", "a\"b\\c")], 3)
        text.histogram("h", [("stage", "frame")], histogram)
        #expect(text.text.hasPrefix("m{camera=\"a\\\"b\\\\c\"} 3\n"))
        #expect(text.text.contains("h_bucket{stage=\"frame\",le=\"0.0001\"} 0\n"))
        #expect(text.text.contains("h_bucket{stage=\"frame\",le=\"0.00025\"} 1\n"))
        #expect(text.text.contains("h_bucket{stage=\"frame\",le=\"10\"} 1\n"))
        #expect(text.text.contains("h_bucket{stage=\"frame\",le=\"+Inf\"} 2\n"))
        #expect(text.text.contains("h_sum{stage=\"frame\"} 20.0002\n"))
        #expect(text.text.contains("h_count{stage=\"frame\"} 2\n"))
    }
}

/// A Bool shared with the server thread.
private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool
    init(_ value: Bool) { stored = value }
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
