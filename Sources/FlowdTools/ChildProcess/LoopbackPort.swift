import Foundation
import Glibc

/// A TCP port on 127.0.0.1 that nothing listens on right now, chosen below the kernel's
/// ephemeral port range.
///
/// Not the kernel's pick for port 0, which lies in that range: a ZeroMQ socket that connects
/// to a port before anyone listens on it keeps retrying, and may be given that very port as its
/// own source port and connect to itself (TCP simultaneous open), never reaching the daemon.
/// Tests/interop/flowd_harness.py follows the same rule.
func freeLoopbackPort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    let low = range?.first ?? 32768
    let candidates = low > 12000 ? 10000...(low - 1) : 61000...65535
    for _ in 0..<200 {
        let port = Int.random(in: candidates)
        if isFree(port) { return port }
    }
    throw ToolError("no free TCP port on 127.0.0.1 in \(candidates)")
}

/// Whether a TCP socket can bind 127.0.0.1:`port` (it is closed again at once).
private func isFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
