import Dispatch
import Foundation
import Glibc
import Protocol
import Synchronization
import ZeroMQ

/// One trial of `flowd bench pipeline`: a real `flowd run` child process (the daemon as systemd
/// runs it, with the model), fed by ``PacedCamera`` over loopback TCP at a fixed rate, its
/// `cell` messages collected by ``ResultCollector`` and its /metrics read at the window's edges.
///
/// Phases: the reference (the camera's first frames, slowly, until the daemon has made its
/// median reference and processed them), the warm-up at the full rate, the timed window at the
/// full rate, then the drain (every frame accounted for) and SIGTERM (the final `counts`).
struct PipelineTrial {
    let pool: TwinFramePool
    let model: String
    let rate: Double
    let warmupSeconds: Double
    let seconds: Double
    /// `nil`: the daemon's default (one per core).
    let workers: Int?
    /// The daemon's `reconstruction.refocus`.
    let refocus: String
    let bar: BenchPipelineReport.Bar
    /// Frames sent slowly first: the daemon's median reference needs
    /// `reconstruction.reference_frames` (15) of them.
    static let referenceFrames = 20

    func run() throws -> BenchPipelineTrial {
        let loadBefore = Self.loadAverage()
        let inputPort = try freeLoopbackPort(), publishPort = try freeLoopbackPort(), metricsPort = try freeLoopbackPort()
        let daemon = try FlowdChild(
            "flowd run",
            arguments: [
                "run", "--input", "pull+bind:tcp://127.0.0.1:\(inputPort)", "--publish", "tcp://127.0.0.1:\(publishPort)",
                "--model", model, "--set", "metrics.listen=127.0.0.1:\(metricsPort)", "--set", "log.level=warning",
                "--set", "publish.counts_interval_s=0.25", "--set", "reconstruction.refocus=\(refocus)",
            ] + (workers.map { ["--set", "workers=\($0)"] } ?? []),
            log: nil)
        defer { daemon.send(SIGKILL) }

        _ = try waitFor("the daemon's /metrics", seconds: 60, daemon) { try? MetricsScrape.fetch(port: metricsPort) }
        let context = ZMQContext()
        defer { context.terminate() }
        let results = try ResultCollector(context: context, endpoint: "tcp://127.0.0.1:\(publishPort)")
        defer { results.stop() }
        // Subscribed once a counts message comes through: no cell can be missed from here on.
        guard results.waitForCounts(seconds: 10, { _ in true }) != nil else {
            throw ToolError("no counts message from the daemon within 10 s")
        }
        let camera = try PacedCamera(context: context, endpoint: "tcp://127.0.0.1:\(inputPort)", pool: pool)
        defer { camera.close() }

        try camera.send(count: Self.referenceFrames, rate: 50, from: DispatchTime.now().uptimeNanoseconds)
        _ = try settled(camera, metricsPort, daemon)

        // Warm-up and window at the full rate, without a pause; the window's edges are read on
        // another thread while this one sends.
        let warmupFrames = Int(warmupSeconds * rate), windowFrames = Int(seconds * rate)
        let start = DispatchTime.now().uptimeNanoseconds + 10_000_000
        let windowStart = start + UInt64(Double(warmupFrames) / rate * 1e9)
        let windowEnd = windowStart + UInt64(Double(windowFrames) / rate * 1e9)
        let edges = WindowEdges(port: metricsPort, daemon: daemon.pid, at: [windowStart, windowEnd])
        try camera.send(count: warmupFrames + windowFrames, rate: rate, from: start)
        let (first, last) = try edges.wait()
        let end = try settled(camera, metricsPort, daemon)

        daemon.send(SIGTERM)
        guard let final = results.waitForCounts(seconds: 20, \.final) else {
            throw ToolError("the daemon published no final counts within 20 s of SIGTERM")
        }
        guard daemon.waitForExit(upTo: 20) else { throw ToolError("flowd run did not exit within 20 s of SIGTERM") }
        guard daemon.exitStatus == 0 else { throw ToolError("flowd run exited with status \(daemon.exitStatus!)") }
        if let failure = results.failure { throw ToolError("result stream: \(failure)") }
        // The floor, measured now, in this run's conditions, with the daemon gone (≈ 1 s).
        let fftOnlyMs = FFTOnlyTiming.milliseconds(size: pool.frames[0].header.rows, repeats: 200)

        return try report(
            camera: camera.tally, final: final, window: (first, last), end: end, cells: results.cells,
            loadAverage: [loadBefore, Self.loadAverage()], fftOnlyMs: fftOnlyMs)
    }

    // MARK: Measuring

    private func report(
        camera: PacedCamera.Tally, final: CountsMessage, window: (WindowEdges.Reading, WindowEdges.Reading),
        end: MetricsScrape, cells: [ResultCollector.Received], loadAverage: [Double], fftOnlyMs: Double
    ) throws -> BenchPipelineTrial {
        let (first, last) = window
        let windowSeconds = Double(last.atNanoseconds - first.atNanoseconds) / 1e9
        let decoded = try cells.map { ($0.atNanoseconds, try JSONDecoder().decode(CellMessage.self, from: Data($0.json))) }
        let inWindow = decoded.filter { (first.atNanoseconds...last.atNanoseconds).contains($0.0) }.map(\.1)
        let latencies = inWindow.map(\.latencyMilliseconds).sorted()
        func percentile(_ q: Double) -> Double { latencies.nearestRank(q) ?? 0 }
        func stageMean(_ stage: String) -> Double {
            let series = "{stage=\"\(stage)\"}"
            let count = last.scrape["flowd_stage_seconds_count" + series] - first.scrape["flowd_stage_seconds_count" + series]
            let sum = last.scrape["flowd_stage_seconds_sum" + series] - first.scrape["flowd_stage_seconds_sum" + series]
            return count > 0 ? sum / count * 1000 : 0
        }
        let processed = "flowd_stage_seconds_count{stage=\"reconstruct\"}"
        let rejected = final.cameras.values.reduce(0) { $0 + $1.rejectedByReason.values.reduce(0, +) }
        let frames = BenchPipelineTrial.Frames(
            sent: camera.sent + camera.notSent, notSent: camera.notSent, received: Int(final.frames.received),
            dropped: Int(final.frames.dropped), malformed: Int(final.frames.malformed), rejected: Int(rejected),
            processed: Int(end[processed]), processedInWindow: Int(last.scrape[processed] - first.scrape[processed]),
            seqGaps: Int(final.frames.gaps))
        let drops = [
            "not_sent": frames.notSent, "queue_full": frames.dropped, "malformed": frames.malformed,
            "rejected": frames.rejected,
        ]
        let dropsTotal = drops.values.reduce(0, +)
        let framesPerSecond = Double(frames.processedInWindow) / windowSeconds
        let perFrame = { (seconds: Double) in frames.processedInWindow > 0 ? seconds / Double(frames.processedInWindow) * 1000 : 0 }
        let cpu = [
            "daemon": perFrame(last.daemonCPUSeconds - first.daemonCPUSeconds),
            "camera_and_subscriber": perFrame(last.benchCPUSeconds - first.benchCPUSeconds),
        ]
        let latency = BenchPipelineTrial.Latency(
            p50: percentile(0.5), p99: percentile(0.99), max: latencies.last ?? 0, cells: latencies.count)
        return BenchPipelineTrial(
            rate: rate, workers: Int(end["flowd_workers"]),
            inferenceThreadsPerWorker: Int(end.total("flowd_inference_threads")),
            blasCore: end.labels("flowd_inference_threads")["blas_core"] ?? "unknown", loadAverage: loadAverage,
            windowSeconds: windowSeconds, frames: frames, drops: drops, dropsTotal: dropsTotal,
            framesPerSecond: framesPerSecond, cellsPerSecond: Double(inWindow.count) / windowSeconds,
            classifiedPerSecond: (last.scrape["flowd_classified_crops_total"] - first.scrape["flowd_classified_crops_total"])
                / windowSeconds,
            labels: labelAgreement(decoded.map(\.1)),
            latencyMs: latency,
            stagesMs: ["frame": stageMean("frame"), "reconstruct": stageMean("reconstruct"), "classify": stageMean("classify")],
            cpuMsPerFrame: cpu, fftOnlyMs: fftOnlyMs, queueDepthMax: Int(end["flowd_queue_depth_max"]), queueCapacity: Int(end["flowd_queue_capacity"]),
            senderMaxLatenessMs: camera.maxLatenessMilliseconds, cellsPublished: Int(final.cells.total),
            cellsTrue: pool.trueCellCount(sent: frames.sent),
            met: framesPerSecond >= bar.minFramesPerSecondFraction * rate && dropsTotal <= bar.maxDrops
                && latency.p99 <= bar.maxLatencyP99Milliseconds)
    }

    /// Each published cell's label against the twin's truth (see ``TwinFramePool/trueClass``).
    private func labelAgreement(_ cells: [CellMessage]) -> BenchPipelineTrial.Labels {
        var labels = BenchPipelineTrial.Labels()
        for cell in cells {
            guard let seq = cell.seq, let truth = pool.trueClass(seq: Int(seq), x: cell.xPixels, y: cell.yPixels, maxDistance: 40)
            else {
                labels.unmatched += 1
                continue
            }
            switch cell.label {
            case truth.rawValue: labels.agree += 1
            case "unknown": labels.unknown += 1
            default: labels.disagree += 1
            }
        }
        return labels
    }

    /// Waits until every frame the camera sent is accounted for by the daemon (received,
    /// dropped or malformed) and every received frame is processed or rejected; returns the
    /// metrics at that moment.
    private func settled(_ camera: PacedCamera, _ port: Int, _ daemon: FlowdChild) throws -> MetricsScrape {
        try waitFor("the daemon to process every frame sent", seconds: 120, daemon) {
            guard let metrics = try? MetricsScrape.fetch(port: port) else { return nil }
            let accounted = metrics.total("flowd_frames_total")
            let done = metrics["flowd_stage_seconds_count{stage=\"reconstruct\"}"] + metrics.total("flowd_rejected_total")
            let received = metrics.total("flowd_frames_total", ("outcome", "received"))
            return Int(accounted) == camera.tally.sent && done == received ? metrics : nil
        }
    }

    private func waitFor<T>(_ what: String, seconds: Double, _ daemon: FlowdChild, _ poll: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard daemon.isRunning else { throw ToolError("flowd run exited (status \(daemon.exitStatus!)) while waiting for \(what)") }
            if let value = try poll() { return value }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ToolError("gave up waiting \(Int(seconds)) s for \(what)")
    }

    /// The 1-minute load average (/proc/loadavg), the figure docs/benchmarks.md reports with
    /// every run on a shared machine.
    static func loadAverage() -> Double {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return Double(text.split(separator: " ").first ?? "") ?? .nan
    }
}

/// Reads /metrics at given instants on a thread of its own, while the caller sends frames.
private final class WindowEdges: Sendable {
    struct Reading: Sendable {
        var atNanoseconds: UInt64
        var scrape: MetricsScrape
        /// CPU time (user + system) the daemon and this process had used, seconds.
        var daemonCPUSeconds: Double
        var benchCPUSeconds: Double
    }

    private let readings = Mutex<[Reading]>([])
    private let failure = Mutex<String?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, daemon: Int32, at instants: [UInt64]) {
        let thread = Thread { [self] in
            for instant in instants {
                let now = DispatchTime.now().uptimeNanoseconds
                if instant > now { Thread.sleep(forTimeInterval: Double(instant - now) / 1e9) }
                do {
                    let scrape = try MetricsScrape.fetch(port: port)
                    let reading = Reading(
                        atNanoseconds: DispatchTime.now().uptimeNanoseconds, scrape: scrape,
                        daemonCPUSeconds: try Self.cpuSeconds("/proc/\(daemon)/stat"),
                        benchCPUSeconds: try Self.cpuSeconds("/proc/self/stat"))
                    readings.withLock { $0.append(reading) }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                }
            }
            done.signal()
        }
        thread.name = "bench-metrics"
        thread.start()
    }

    /// utime + stime of a process, from its /proc/PID/stat (fields 14 and 15, in clock ticks;
    /// the command name in field 2 is parenthesised and may contain spaces).
    static func cpuSeconds(_ path: String) throws -> Double {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let close = text.lastIndex(of: ")") else { throw ToolError("\(path): unexpected format") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw ToolError("\(path): unexpected format")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The window's first and last readings, once both are taken.
    func wait() throws -> (Reading, Reading) {
        done.wait()
        if let failure = failure.withLock({ $0 }) { throw ToolError(failure) }
        let readings = readings.withLock { $0 }
        guard let first = readings.first, let last = readings.last, readings.count == 2 else {
            throw ToolError("the window's metrics were not read")
        }
        return (first, last)
    }
}
