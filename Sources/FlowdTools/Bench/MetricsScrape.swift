import Foundation
import Glibc

/// One reading of a flowd's `GET /metrics` (Prometheus text), as `flowd bench pipeline` takes
/// them at the edges of its timed window: the difference of two readings is what happened in
/// between.
struct MetricsScrape {
    enum ScrapeError: Error, CustomStringConvertible {
        case unreachable(String)

        var description: String {
            switch self {
            case .unreachable(let why): "cannot read flowd's /metrics: \(why)"
            }
        }
    }

    /// Every sample, keyed by its series exactly as rendered: `name{label="value",…}`.
    let samples: [String: Double]

    /// `GET /metrics` from `127.0.0.1:port` (HTTP/1.1, one request per connection).
    static func fetch(port: Int) throws(ScrapeError) -> MetricsScrape {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .unreachable("socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw .unreachable("connect to 127.0.0.1:\(port): errno \(errno)") }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw .unreachable("send: errno \(errno)")
        }
        // Asked to (Connection: close), the server closes the connection after its response.
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .unreachable("recv: errno \(errno)") }
            if n == 0 { break }
            response += buffer[..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200"), let body = text.range(of: "\r\n\r\n") else {
            throw .unreachable("unexpected response: \(text.prefix(80))")
        }
        return MetricsScrape(text: String(text[body.upperBound...]))
    }

    /// Parses exposition text: `series value` lines; comments and blank lines are skipped.
    init(text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    /// The sample of `series` (`name` or `name{…}`), 0 when absent (a counter not yet incremented).
    subscript(_ series: String) -> Double { samples[series] ?? 0 }

    /// The sum over the samples of the family `name`, of all of them or of those labelled
    /// `label` (e.g. `("outcome", "received")`).
    func total(_ name: String, _ label: (String, String)? = nil) -> Double {
        let labelText = label.map { "\($0.0)=\"\($0.1)\"" }
        return samples.reduce(0) { sum, sample in
            guard sample.key == name || sample.key.hasPrefix(name + "{") else { return sum }
            if let labelText, !sample.key.contains(labelText) { return sum }
            return sum + sample.value
        }
    }

    /// The labels of the first sample of `name`, e.g. `["blas_core": "Cooperlake"]`.
    func labels(_ name: String) -> [String: String] {
        guard let series = samples.keys.first(where: { $0.hasPrefix(name + "{") }) else { return [:] }
        var labels: [String: String] = [:]
        for pair in series.dropFirst(name.count + 1).dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
        }
        return labels
    }
}
