import Foundation
import Glibc

/// Talks to systemd's service manager over `$NOTIFY_SOCKET`, without libsystemd.
///
/// The protocol (sd_notify(3)) is one datagram of newline-separated `KEY=VALUE` lines to the
/// Unix socket named in `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
/// Outside systemd the variable is unset and every call does nothing.
struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// `WatchdogSec=` of the unit as systemd passes it (`WATCHDOG_USEC`), when it applies to us.
    let watchdogInterval: Duration?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(UInt64.init).flatMap {
            forUs && $0 > 0 ? .microseconds($0) : nil
        }
    }

    var isActive: Bool { socketPath != nil }

    func ready(status: String) { send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
    func status(_ text: String) { send("STATUS=\(text)") }
    func stopping() { send("STOPPING=1\nSTATUS=stopping") }
    func reloading() { send("RELOADING=1") }
    func watchdog() { send("WATCHDOG=1") }

    /// Sends one notification; failures are ignored, as sd_notify's callers do: a daemon must
    /// not stop because its supervisor went away.
    func send(_ message: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bytes.withUnsafeBytes { body in
                    // Never block: a service manager that is slow to read loses a notification,
                    // the daemon loses nothing.
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), sockaddrPointer, length)
                }
            }
        }
    }
}
