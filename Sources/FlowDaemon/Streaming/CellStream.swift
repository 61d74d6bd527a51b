import Dispatch
import FlowdConfig
import Foundation
import Logging
import NATS
import Protocol
import SystemSupport

/// Streams every published cell to NATS JetStream, and the daemon's latest counts and a
/// heartbeat to a key-value bucket, for a fleet of rigs (docs/scale-out.md).
///
/// - Cells: subject `flowd.<rig>.<camera>.cells` (a camera id's characters other than letters,
///   digits, `_` and `-` become `_`), message id `<run id>/<camera>/<cell id>`, payload the
///   `cell` message's JSON. ``enqueue(_:json:runID:)`` only appends to a bounded outbox
///   (``StreamOutbox``) and never waits: NATS being slow or away never blocks the rig. One
///   thread sends the outbox in batches of up to 256 and removes a batch only once the stream
///   acknowledged every cell of it; otherwise it sends it again (same ids: the stream's
///   duplicate window, `nats.buffer_max_age_s`, drops a second copy). Cells that fall out of the
///   outbox (full, too old, left at shutdown) are counted by reason.
/// - Key-value bucket `nats.bucket`: `<rig>.counts` (the latest `counts` message) and
///   `<rig>.heartbeat` (time, uptime and this stream's own counts), at most once per second.
final class CellStream: @unchecked Sendable {
    // Sendable: `outbox`, `latestCounts` and the counters are guarded by `lock`; `connection`
    // is thread-safe; the rest is immutable.

    /// What became of the cells so far.
    struct Tally: Sendable, Equatable {
        var stored = 0
        var buffered = 0
        var lostFull = 0
        var lostTooOld = 0
        var lostAtShutdown = 0
        var connected = false
    }

    static let batchSize = 256
    /// How long a batch waits for its acknowledgments before it is sent again, ms.
    static let acknowledgmentTimeoutMilliseconds: Int64 = 2000
    /// How long the stopping daemon keeps sending what is left, at most.
    static let shutdownDrainSeconds = 5.0

    let rig: String
    /// Shared with the fleet's model roll-out (``ModelRolloutService``).
    let connection: NATSConnection
    private let settings: NATSSettings
    private let logger: Logger
    private let startNanoseconds: UInt64
    private let thread = BackgroundThread(name: "flowd-nats")
    private let lock = NSLock()
    private let wake = DispatchSemaphore(value: 0)
    private var outbox: StreamOutbox
    private var latestCounts: [UInt8]?
    private var stored = 0
    private var lostAtShutdown = 0
    /// The connection's state when last looked at; nil before the first look (which is logged
    /// whatever it finds).
    private var connected: Bool?

    /// Connects in the background (an unreachable server is logged, not fatal). Throws for a
    /// URL or credentials file the client refuses.
    init(settings: NATSSettings, startNanoseconds: UInt64, logger: Logger) throws(NATSError) {
        self.settings = settings
        self.logger = logger
        self.startNanoseconds = startNanoseconds
        rig = settings.rig.isEmpty ? Self.token(ProcessInfo.processInfo.hostName) : settings.rig
        connection = try NATSConnection(
            url: settings.url, name: "flowd \(rig)",
            credentialsFile: settings.credentialsFile.isEmpty ? nil : settings.credentialsFile,
            trustedCAFile: settings.trustedCAFile.isEmpty ? nil : settings.trustedCAFile)
        outbox = StreamOutbox(
            capacity: settings.bufferCells, maxAgeNanoseconds: UInt64(settings.bufferMaxAgeSeconds * 1e9))
    }

    /// `text` as one token of a NATS subject or key: letters, digits, `_` and `-`; anything
    /// else becomes `_`.
    static func token(_ text: String) -> String {
        let mapped = String(text.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" ? $0 : "_" })
        return mapped.isEmpty ? "_" : mapped
    }

    /// Queues one published cell, as the JSON it was published with, for the stream (never
    /// waits).
    func enqueue(_ cell: CellMessage, json: [UInt8], runID: String) {
        let message = NATSConnection.Message(
            subject: "flowd.\(rig).\(Self.token(cell.camera)).cells", id: "\(runID)/\(cell.camera)/\(cell.cellID)",
            payload: json)
        lock.withLock { outbox.append(message, at: DispatchTime.now().uptimeNanoseconds) }
        wake.signal()
    }

    /// The latest `counts` message, for the key-value bucket.
    func update(counts: CountsMessage) {
        let bytes = counts.jsonBytes()
        lock.withLock { latestCounts = bytes }
    }

    var tally: Tally {
        lock.withLock {
            Tally(
                stored: stored, buffered: outbox.count, lostFull: outbox.lostFull, lostTooOld: outbox.lostTooOld,
                lostAtShutdown: lostAtShutdown, connected: connected ?? false)
        }
    }

    func start() {
        logger.info(
            "streaming cells to NATS \(settings.url) as rig \(rig): stream \(settings.stream), bucket \(settings.bucket), buffer \(settings.bufferCells) cells / \(settings.bufferMaxAgeSeconds) s")
        thread.start { [self] in
            var streamReady = false
            var lastState: UInt64 = 0
            while !thread.isStopping {
                _ = wake.wait(timeout: .now() + .milliseconds(200))
                noteConnection()
                guard connection.isConnected else { continue }
                if !streamReady { streamReady = ensureStream() }
                if streamReady, !sendBatch() { streamReady = ensureStream() }
                let now = DispatchTime.now().uptimeNanoseconds
                if now &- lastState >= 1_000_000_000 {
                    putState()
                    lastState = now
                }
            }
        }
    }

    /// Stops after sending what is left for up to ``shutdownDrainSeconds`` while connected;
    /// what still waits is counted lost at shutdown.
    func stop() {
        thread.stop()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(Self.shutdownDrainSeconds * 1e9)
        var streamReady = connection.isConnected && ensureStream()
        while lock.withLock({ outbox.count }) > 0, DispatchTime.now().uptimeNanoseconds < deadline {
            if !connection.isConnected {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            if !streamReady { streamReady = ensureStream() }
            if streamReady, !sendBatch() { Thread.sleep(forTimeInterval: 0.1) }
        }
        if connection.isConnected { putState() }
        let left = lock.withLock {
            let left = outbox.abandon()
            lostAtShutdown += left
            return left
        }
        let final = tally
        logger.info(
            "NATS stream: \(final.stored) cells stored; lost: \(final.lostFull) (buffer full), \(final.lostTooOld) (older than \(settings.bufferMaxAgeSeconds) s), \(left) (left at shutdown)")
    }

    /// Sends the oldest batch; true when it was stored (or there was nothing to send).
    private func sendBatch() -> Bool {
        let (messages, through) = lock.withLock { outbox.oldest(Self.batchSize, at: DispatchTime.now().uptimeNanoseconds) }
        guard !messages.isEmpty else { return true }
        guard connection.publish(messages, timeoutMilliseconds: Self.acknowledgmentTimeoutMilliseconds) else { return false }
        lock.withLock {
            outbox.remove(through: through)
            stored += messages.count
        }
        if lock.withLock({ outbox.count }) > 0 { wake.signal() }
        return true
    }

    private func ensureStream() -> Bool {
        do {
            try connection.ensureStream(
                settings.stream, subjects: ["flowd.*.*.cells"], maxAgeSeconds: settings.streamMaxAgeSeconds,
                maxBytes: settings.streamMaxBytes, duplicateWindowSeconds: settings.bufferMaxAgeSeconds)
            return true
        } catch {
            logger.warning("NATS: \(error); cells wait in the buffer")
            return false
        }
    }

    private func putState() {
        let state = tally
        let heartbeat: [String: JSONValue] = [
            "rig": .string(rig), "time_unix": .double(Date().timeIntervalSince1970),
            "uptime_s": .double(Double(DispatchTime.now().uptimeNanoseconds &- startNanoseconds) / 1e9),
            "cells_stored": .integer(Int64(state.stored)), "cells_buffered": .integer(Int64(state.buffered)),
            "cells_lost": .object([
                "buffer_full": .integer(Int64(state.lostFull)), "too_old": .integer(Int64(state.lostTooOld)),
                "shutdown": .integer(Int64(state.lostAtShutdown)),
            ]),
        ]
        do {
            if let counts = lock.withLock({ latestCounts }) {
                try connection.put(counts, key: "\(rig).counts", bucket: settings.bucket)
            }
            let bytes = Array((try? JSONEncoder().encode(JSONValue.object(heartbeat))) ?? Data())
            try connection.put(bytes, key: "\(rig).heartbeat", bucket: settings.bucket)
        } catch {
            logger.warning("NATS: \(error)")
        }
    }

    /// Logs each change of the connection's state once.
    private func noteConnection() {
        let now = connection.isConnected
        let changed = lock.withLock {
            defer { connected = now }
            return connected != now
        }
        if changed {
            if now {
                logger.notice("NATS: connected to \(settings.url)")
            } else {
                logger.warning("NATS: not connected to \(settings.url); the rig goes on, cells wait in the buffer")
            }
        }
    }
}
