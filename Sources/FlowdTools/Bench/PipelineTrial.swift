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
    /// 0: one `flowd run`; N: an aggregator and N worker processes (``BenchRig``).
    let workerProcesses: Int
    let bar: BenchPipelineReport.Bar
    /// Frames sent slowly first: the daemon's median reference needs
    /// `reconstruction.reference_frames` (15) of them (each worker process its own).
    var referenceFrames: Int { Self.referenceFrames * max(1, workerProcesses) }
    static let referenceFrames = 20

    func run() throws -> BenchPipelineTrial {
        let loadBefore = Self.loadAverage()
        let rig = try BenchRig(model: model, refocus: refocus, workers: workers, workerProcesses: workerProcesses)
        defer { rig.kill() }
        let daemon = rig.main.child

        for member in rig.members {
            _ = try waitFor("the /metrics of \(member.child.name)", seconds: 60, rig) { try? MetricsScrape.fetch(port: member.metricsPort) }
        }
        let context = ZMQContext()
        defer { context.terminate() }
        let results = try ResultCollector(context: context, endpoint: "tcp://127.0.0.1:\(rig.publishPort)")
        defer { results.stop() }
        // Subscribed once a counts message comes through: no cell can be missed from here on.
        guard results.waitForCounts(seconds: 10, { _ in true }) != nil else {
            throw ToolError("no counts message from the daemon within 10 s")
        }
        let camera = try PacedCamera(context: context, endpoint: rig.cameraEndpoint, bind: rig.cameraBinds, pool: pool)
        defer { camera.close() }
        if rig.cameraBinds {
            // The workers connect to the camera, retrying every 100 ms (libzmq's reconnect
            // interval): after a second every one has, and the frames go round-robin from the first.
            Thread.sleep(forTimeInterval: 1)
        }

        try camera.send(count: referenceFrames, rate: 50, from: DispatchTime.now().uptimeNanoseconds)
        _ = try settled(camera, rig)

        // Warm-up and window at the full rate, without a pause; the window's edges are read on
        // another thread while this one sends.
        let warmupFrames = Int(warmupSeconds * rate), windowFrames = Int(seconds * rate)
        let start = DispatchTime.now().uptimeNanoseconds + 10_000_000
        let windowStart = start + UInt64(Double(warmupFrames) / rate * 1e9)
        let windowEnd = windowStart + UInt64(Double(windowFrames) / rate * 1e9)
        let edges = WindowEdges(rig: rig, at: [windowStart, windowEnd])
        try camera.send(count: warmupFrames + windowFrames, rate: rate, from: start)
        let (first, last) = try edges.wait()
        let end = try settled(camera, rig)

        // Workers first: the aggregator's final counts then hold every frame they returned.
        for member in rig.members.reversed() {
            member.child.send(SIGTERM)
            if member.role == rig.main.role { break }
            guard member.child.waitForExit(upTo: 20), member.child.exitStatus == 0 else {
                throw ToolError("\(member.child.name) did not exit cleanly within 20 s of SIGTERM")
            }
        }
        guard let final = results.waitForCounts(seconds: 20, \.final) else {
            throw ToolError("the daemon published no final counts within 20 s of SIGTERM")
        }
        guard daemon.waitForExit(upTo: 20) else { throw ToolError("\(daemon.name) did not exit within 20 s of SIGTERM") }
        guard daemon.exitStatus == 0 else { throw ToolError("\(daemon.name) exited with status \(daemon.exitStatus!)") }
        if let failure = results.failure { throw ToolError("result stream: \(failure)") }
        // The floor, measured now, in this run's conditions, with the daemon gone (≈ 1 s).
        let fftOnlyMs = FFTOnlyTiming.milliseconds(size: pool.frames[0].header.rows, repeats: 200)

        return try report(
            rig: rig, camera: camera.tally, final: final, window: (first, last), end: end, cells: results.cells,
            loadAverage: [loadBefore, Self.loadAverage()], fftOnlyMs: fftOnlyMs)
    }

    // MARK: Measuring

    private func report(
        rig: BenchRig, camera: PacedCamera.Tally, final: CountsMessage, window: (WindowEdges.Reading, WindowEdges.Reading),
        end ends: [MetricsScrape], cells: [ResultCollector.Received], loadAverage: [Double], fftOnlyMs: Double
    ) throws -> BenchPipelineTrial {
        // The daemon's (or the aggregator's) metrics, and the frame path's: the daemon's, or
        // the workers' summed (counters and histogram sums add up; gauges are read per member).
        let end = ends[0], frameEnds = workerProcesses > 0 ? Array(ends.dropFirst()) : ends
        let (first, last) = window
        let windowSeconds = Double(last.atNanoseconds - first.atNanoseconds) / 1e9
        let decoded = try cells.map { ($0.atNanoseconds, try JSONDecoder().decode(CellMessage.self, from: Data($0.json))) }
        let inWindow = decoded.filter { (first.atNanoseconds...last.atNanoseconds).contains($0.0) }.map(\.1)
        let latencies = inWindow.map(\.latencyMilliseconds).sorted()
        func percentile(_ q: Double) -> Double { latencies.nearestRank(q) ?? 0 }
        func stageMean(_ stage: String) -> Double {
            let series = "{stage=\"\(stage)\"}"
            func delta(_ name: String) -> Double {
                let members = stage == "classify" ? [0] : Array(frameMemberIndices)
                return members.reduce(0) { $0 + last.scrapes[$1][name + series] - first.scrapes[$1][name + series] }
            }
            let count = delta("flowd_stage_seconds_count"), sum = delta("flowd_stage_seconds_sum")
            return count > 0 ? sum / count * 1000 : 0
        }
        let processed = "flowd_stage_seconds_count{stage=\"reconstruct\"}"
        let processedInWindow = frameMemberIndices.reduce(0) { $0 + last.scrapes[$1][processed] - first.scrapes[$1][processed] }
        // Frames a worker's full queue dropped are counted where dropped; the aggregator, told of
        // each, counts it again under `queue_full`.
        let rejected = final.cameras.values.reduce(0) { $0 + $1.rejectedByReason.filter { $0.key != "queue_full" }.values.reduce(0, +) }
        let dropped = workerProcesses > 0
            ? Int(frameEnds.reduce(0) { $0 + $1.total("flowd_frames_total", ("outcome", "dropped")) }) : Int(final.frames.dropped)
        let frames = BenchPipelineTrial.Frames(
            sent: camera.sent + camera.notSent, notSent: camera.notSent, received: Int(final.frames.received),
            dropped: dropped, malformed: Int(final.frames.malformed), rejected: Int(rejected),
            processed: Int(frameEnds.reduce(0) { $0 + $1[processed] }), processedInWindow: Int(processedInWindow),
            seqGaps: Int(final.frames.gaps))
        let drops = [
            "not_sent": frames.notSent, "queue_full": frames.dropped, "malformed": frames.malformed,
            "rejected": frames.rejected,
        ]
        let dropsTotal = drops.values.reduce(0, +)
        let framesPerSecond = Double(frames.processedInWindow) / windowSeconds
        let perFrame = { (seconds: Double) in frames.processedInWindow > 0 ? seconds / Double(frames.processedInWindow) * 1000 : 0 }
        var cpu = ["camera_and_subscriber": perFrame(last.benchCPUSeconds - first.benchCPUSeconds)]
        for (i, role) in rig.members.map(\.role).enumerated() {
            // Workers as one figure: the CPU of the frame path per frame, over all of them.
            let key = role.hasPrefix("worker") ? "worker" : role
            cpu[key, default: 0] += perFrame(last.memberCPUSeconds[i] - first.memberCPUSeconds[i])
        }
        let latency = BenchPipelineTrial.Latency(
            p50: percentile(0.5), p99: percentile(0.99), max: latencies.last ?? 0, cells: latencies.count)
        return BenchPipelineTrial(
            rate: rate, workers: Int(frameEnds.reduce(0) { $0 + $1["flowd_workers"] }), workerProcesses: workerProcesses,
            inferenceThreadsPerWorker: Int(end.total("flowd_inference_threads")),
            blasCore: end.labels("flowd_inference_threads")["blas_core"] ?? "unknown", loadAverage: loadAverage,
            windowSeconds: windowSeconds, frames: frames, drops: drops, dropsTotal: dropsTotal,
            framesPerSecond: framesPerSecond, cellsPerSecond: Double(inWindow.count) / windowSeconds,
            classifiedPerSecond: (last.scrape["flowd_classified_crops_total"] - first.scrape["flowd_classified_crops_total"])
                / windowSeconds,
            labels: labelAgreement(decoded.map(\.1)),
            latencyMs: latency,
            stagesMs: ["frame": stageMean("frame"), "reconstruct": stageMean("reconstruct"), "classify": stageMean("classify")],
            cpuMsPerFrame: cpu, fftOnlyMs: fftOnlyMs, queueDepthMax: Int(frameEnds.map { $0["flowd_queue_depth_max"] }.max() ?? 0),
            queueCapacity: Int(frameEnds[0]["flowd_queue_capacity"]),
            senderMaxLatenessMs: camera.maxLatenessMilliseconds, cellsPublished: Int(final.cells.total),
            cellsTrue: pool.trueCellCount(sent: frames.sent),
            met: framesPerSecond >= bar.minFramesPerSecondFraction * rate && dropsTotal <= bar.maxDrops
                && latency.p99 <= bar.maxLatencyP99Milliseconds)
    }

    /// Each published cell's label against the twin's truth (see ``TwinFramePool/trueCell``),
    /// and the cells published more than once: a second message for a true cell of the same pass.
    private func labelAgreement(_ cells: [CellMessage]) -> BenchPipelineTrial.Labels {
        var labels = BenchPipelineTrial.Labels()
        var published = Set<[Int]>()
        for cell in cells {
            guard let seq = cell.seq, let (truth, pass) = pool.trueCell(seq: Int(seq), x: cell.xPixels, y: cell.yPixels, maxDistance: 40)
            else {
                labels.unmatched += 1
                continue
            }
            if !published.insert([pass, truth.id]).inserted { labels.countedTwice += 1 }
            switch cell.label {
            case truth.cellClass.rawValue: labels.agree += 1
            case "unknown": labels.unknown += 1
            default: labels.disagree += 1
            }
        }
        return labels
    }

    /// The members that reconstruct frames, by index into ``BenchRig/members``.
    private var frameMemberIndices: Range<Int> { workerProcesses > 0 ? 1..<(1 + workerProcesses) : 0..<1 }

    /// Waits until every frame the camera sent is accounted for by the frame processes (received,
    /// dropped or malformed) and every received frame is processed or rejected, and, with
    /// worker processes, the aggregator has put every frame they processed in order (or given it
    /// up); returns every member's metrics at that moment.
    private func settled(_ camera: PacedCamera, _ rig: BenchRig) throws -> [MetricsScrape] {
        try waitFor("the daemon to process every frame sent", seconds: 120, rig) {
            guard let scrapes = try? rig.members.map({ try MetricsScrape.fetch(port: $0.metricsPort) }) else { return nil }
            let frameScrapes = frameMemberIndices.map { scrapes[$0] }
            let accounted = frameScrapes.reduce(0) { $0 + $1.total("flowd_frames_total") }
            let received = frameScrapes.reduce(0) { $0 + $1.total("flowd_frames_total", ("outcome", "received")) }
            let done = frameScrapes.reduce(0) {
                $0 + $1["flowd_stage_seconds_count{stage=\"reconstruct\"}"] + $1.total("flowd_rejected_total")
            }
            // ≥: a worker's frame it could not hand over is reconstructed and counted rejected too.
            guard Int(accounted) == camera.tally.sent, done >= received else { return nil }
            guard workerProcesses > 0 else { return scrapes }
            // Frames a worker could not hand over never reach the aggregator, which counts the
            // missing ones `not_returned` only when a later frame came.
            let handedOver = received - frameScrapes.reduce(0) { $0 + $1.total("flowd_rejected_total", ("reason", "aggregator_unreachable")) }
            let aggregator = scrapes[0]
            let ordered = aggregator.total("flowd_frames_total", ("outcome", "received"))
                + aggregator.total("flowd_rejected_total", ("reason", "not_returned"))
            return ordered >= handedOver ? scrapes : nil
        }
    }

    private func waitFor<T>(_ what: String, seconds: Double, _ rig: BenchRig, _ poll: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let exited = rig.exited() { throw ToolError("\(exited) while waiting for \(what)") }
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
        /// Every member's metrics, in ``BenchRig/members`` order; the first is the daemon's or
        /// the aggregator's.
        var scrapes: [MetricsScrape]
        var scrape: MetricsScrape { scrapes[0] }
        /// CPU time (user + system) each member and this process had used, seconds.
        var memberCPUSeconds: [Double]
        var benchCPUSeconds: Double
    }

    private let readings = Mutex<[Reading]>([])
    private let failure = Mutex<String?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(rig: BenchRig, at instants: [UInt64]) {
        let members = rig.members.map { ($0.metricsPort, $0.child.pid) }
        let thread = Thread { [self] in
            for instant in instants {
                let now = DispatchTime.now().uptimeNanoseconds
                if instant > now { Thread.sleep(forTimeInterval: Double(instant - now) / 1e9) }
                do {
                    let scrapes = try members.map { try MetricsScrape.fetch(port: $0.0) }
                    let reading = Reading(
                        atNanoseconds: DispatchTime.now().uptimeNanoseconds, scrapes: scrapes,
                        memberCPUSeconds: try members.map { try Self.cpuSeconds("/proc/\($0.1)/stat") },
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
