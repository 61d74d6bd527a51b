import Foundation
import Glibc
import Synchronization
import SystemSupport

/// A minimal HTTP/1.1 server for `GET /metrics` (Prometheus text) and `GET /healthz`.
///
/// Scrapers are few and local, so one thread serves one connection at a time, each with a 1 s
/// read timeout and an 8 KiB request limit; that is all the robustness a loopback monitoring
/// port needs, and it costs no dependency.
final class MetricsServer: Sendable {
    struct Health: Sendable {
        var healthy: Bool
        var detail: String
    }

    enum ServerError: Error, CustomStringConvertible {
        case address(String)
        case system(String, Int32)

        var description: String {
            switch self {
            case .address(let text): "metrics.listen must be HOST:PORT with a numeric IPv4 host, got \"\(text)\""
            case .system(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
            }
        }
    }

    private let fd: Int32
    let port: Int
    private let metrics: @Sendable () -> String
    private let health: @Sendable () -> Health
    private let thread = BackgroundThread(name: "flowd-metrics")

    /// Binds `HOST:PORT` (port 0: any free port, see ``port``).
    init(listen address: String, metrics: @escaping @Sendable () -> String, health: @escaping @Sendable () -> Health) throws(ServerError) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw .address(address)
        }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(address[..<colon]), &socketAddress.sin_addr) == 1 else { throw .address(address) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw .system("bind \(address)", code)
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: socketAddress.sin_port))
        self.metrics = metrics
        self.health = health
    }

    func start() {
        thread.start { [self] in serve() }
    }

    /// Stops after the request in progress (if any) is answered, and closes the listening socket.
    func stop() {
        if !thread.stop() { close(fd) }
    }

    private func serve() {
        defer { close(fd) }
        while !thread.isStopping {
            var pending = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 100) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            respond(on: client)
            close(client)
        }
    }

    private func respond(on client: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 2048)
        // Read until the end of the headers; GET requests have no body.
        while request.count < 8192, !request.ends(with: [13, 10, 13, 10]) {
            let n = recv(client, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            request += buffer[..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let (status, body): (String, String)
        switch (line.first, line.dropFirst().first) {
        case ("GET", "/metrics"):
            (status, body) = ("200 OK", metrics())
        case ("GET", "/healthz"):
            let health = health()
            (status, body) = (health.healthy ? "200 OK" : "503 Service Unavailable", health.detail + "\n")
        case ("GET", _):
            (status, body) = ("404 Not Found", "try /metrics or /healthz\n")
        default:
            (status, body) = ("405 Method Not Allowed", "only GET\n")
        }
        let contentType = body.hasPrefix("#") ? "text/plain; version=0.0.4" : "text/plain"
        let response = Array(
            "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                .utf8)
        var sent = 0
        while sent < response.count {
            let n = response.withUnsafeBytes { send(client, $0.baseAddress! + sent, response.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            sent += n
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
