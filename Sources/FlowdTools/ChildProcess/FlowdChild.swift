import Foundation
import Synchronization

/// A `flowd` subcommand run as a child process of a tool (`flowd demo`, `flowd bench
/// pipeline`; the same executable): the one way the tools start a daemon or a camera.
///
/// With a log file, the child's standard output and error go there and its latest line is kept
/// for a live view; without one, its output is discarded and its standard error (warnings) is
/// the tool's. Foundation starts the child in a process group of its own, so a Ctrl-C at the
/// terminal reaches the tool only, which then stops its children in order.
public final class FlowdChild: Sendable {
    public let name: String
    public let log: URL?
    private let process: Process
    private let output = Mutex<(pending: String, latest: String?)>(("", nil))

    /// Starts `flowd ARGUMENTS`, without the caller's FLOWD_* variables (the tool sets what it
    /// needs on the command line) and without systemd's notification variables.
    public init(_ name: String, arguments: [String], log: URL?) throws {
        self.name = name
        self.log = log
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("FLOWD_") && !["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(key)
        }
        process.standardInput = FileHandle.nullDevice
        self.process = process
        guard let log else {
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return
        }
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw ToolError("cannot create \(log.path)")
        }
        let file = try FileHandle(forWritingTo: log)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
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

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// The exit status, or the signal that ended it; `nil` while running.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }
    /// The last complete line the child printed (with a log file).
    public var latestLine: String? { output.withLock { $0.latest } }

    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits up to `seconds` for the child to exit; `true` when it has.
    public func waitForExit(upTo seconds: Double) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return !process.isRunning
    }

    /// The last `count` lines of its log, to show when it failed.
    public func logTail(_ count: Int = 20) -> String {
        let text = log.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}
