import Foundation
import Synchronization

/// A `flowd` subcommand run as a child process of `flowd demo` (the same executable), its
/// standard output and error going to a log file, its latest line kept for the live view.
///
/// Foundation starts the child in a process group of its own, so a Ctrl-C at the terminal
/// reaches the demo only, which then stops its children in order.
final class FlowdChild: Sendable {
    let name: String
    let log: URL
    private let process: Process
    private let output = Mutex<(pending: String, latest: String?)>(("", nil))

    /// Starts `flowd ARGUMENTS`, without the caller's FLOWD_* variables (the demo sets what it
    /// needs on the command line) and without systemd's notification variables.
    init(_ name: String, arguments: [String], log: URL) throws {
        self.name = name
        self.log = log
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw DemoError("cannot create \(log.path)")
        }
        let file = try FileHandle(forWritingTo: log)
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("FLOWD_") && !["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(key)
        }
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                try? file.close()
                return
            }
            try? file.write(contentsOf: data)
            self?.keepLatestLine(data)
        }
        try process.run()
    }

    private func keepLatestLine(_ data: Data) {
        output.withLock { state in
            state.pending += String(decoding: data, as: UTF8.self)
            let lines = state.pending.split(separator: "\n", omittingEmptySubsequences: false)
            state.pending = String(lines.last ?? "")
            if let line = lines.dropLast().last(where: { !$0.isEmpty }) { state.latest = String(line) }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    /// The exit status, or the signal that ended it; `nil` while running.
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }
    /// The last complete line the child printed.
    var latestLine: String? { output.withLock { $0.latest } }

    func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits up to `seconds` for the child to exit; `true` when it has.
    func waitForExit(upTo seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    /// The last `count` lines of its log, to show when it failed.
    func logTail(_ count: Int = 20) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}
