import Foundation
import Simulator

/// `flowd bench pipeline`: the whole live pipeline under a camera's fixed frame rate, measured
/// from outside as an operator would see it: frames and cells per second sustained, latency of
/// the published labels, and every frame lost, by reason.
///
/// Each rate gets a fresh `flowd run` child process with the model, fed over loopback TCP by a
/// camera in this process that replays the digital twin's holograms (``TwinFramePool``,
/// rendered before any timing); see ``PipelineTrial`` for the phases. The bar: 1024² holograms
/// at ≥ 200 frames/s with about 5 cells per frame, zero drops, p99 ≤ 20 ms.
public struct PipelineBenchmark {
    /// Frames per second the camera sends, one trial each.
    public var rates: [Double]
    /// Seconds of the timed window per trial, and at the full rate before it.
    public var seconds: Double
    public var warmup: Double
    /// Hologram width and height, pixels.
    public var size: Int
    /// Frame workers of the daemon (of each worker process); `nil`: its own default, one per
    /// core (one per worker process).
    public var workers: Int?
    /// 0: one `flowd run`; N: an aggregator and N `--role worker` processes (docs/scale-out.md).
    public var workerProcesses = 0
    public var model: String
    /// Distinct holograms rendered and replayed in a loop.
    public var poolFrames: Int
    /// Cells per µL of the simulated sample.
    public var concentration: Double
    /// Print one JSON object instead of a table.
    public var json: Bool
    /// The twin's conditions (``TwinConditions``): the flow and optics the pool is rendered with
    /// (its size and concentration are the ones above).
    public var flow = FlowConfiguration()
    public var optics = RigOptics()
    /// The daemon's `reconstruction.refocus`: `auto` or `off` (the default here: the frame path's
    /// own cost, the figure the throughput target is about).
    public var refocus = "off"

    /// Fewest frames in the pool: the daemon's reference needs them first.
    public static var minimumPoolFrames: Int { PipelineTrial.referenceFrames }

    public init(
        rates: [Double], seconds: Double, warmup: Double, size: Int, workers: Int?, model: String, poolFrames: Int,
        concentration: Double, json: Bool
    ) {
        (self.rates, self.seconds, self.warmup, self.size, self.workers) = (rates, seconds, warmup, size, workers)
        (self.model, self.poolFrames, self.concentration, self.json) = (model, poolFrames, concentration, json)
    }

    public func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let conditions = TwinConditions.name(of: flow, optics)
        progress("rendering \(poolFrames) holograms of \(size)² with the digital twin (\(conditions) conditions) on \(cores) cores…")
        let pool = try TwinFramePool(
            size: size, count: poolFrames, concentration: concentration, segments: cores, flow: flow, optics: optics)
        progress(String(format: "%.1f cells in view per frame; %.0f px per frame", pool.cellsInViewPerFrame, pool.pixelsPerFrame))
        var report = BenchPipelineReport(
            size: size, model: model, poolFrames: pool.frames.count, twinConditions: conditions, refocus: refocus,
            cellsInViewPerFrame: pool.cellsInViewPerFrame,
            seconds: seconds, warmupSeconds: warmup, cores: cores, trials: [])
        for rate in rates {
            progress("trial at \(Int(rate)) frames/s: \(Int(warmup)) s warm-up, \(seconds) s timed…")
            let trial = try PipelineTrial(
                pool: pool, model: model, rate: rate, warmupSeconds: warmup, seconds: seconds, workers: workers,
                refocus: refocus, workerProcesses: workerProcesses, bar: report.bar
            ).run()
            report.trials.append(trial)
            if !json { show(trial) }
        }
        report.sustainableRate = report.trials.filter(\.met).map(\.rate).max()
        if json {
            try report.printJSON()
        } else {
            print(report.sustainableRate.map { "sustainable: \(Int($0)) frames/s" } ?? "no rate met the bar")
        }
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write(Data("flowd bench pipeline: \(line)\n".utf8))
    }

    private func show(_ t: BenchPipelineTrial) {
        let f = t.frames
        print(String(format: "rate %.0f frames/s: %@ (load %.1f → %.1f)", t.rate, t.met ? "met the bar" : "missed the bar", t.loadAverage[0], t.loadAverage[1]))
        let processes = t.workerProcesses > 0 ? " in \(t.workerProcesses) worker processes and an aggregator" : ""
        print("  \(t.workers) workers\(processes) × \(t.inferenceThreadsPerWorker) inference thread(s), OpenBLAS core \(t.blasCore)")
        print(String(format: "  sustained %.1f frames/s, %.1f cells/s, %.1f crops classified/s over %.1f s", t.framesPerSecond, t.cellsPerSecond, t.classifiedPerSecond, t.windowSeconds))
        print(String(format: "  latency (frame arrival → label published) p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d cells", t.latencyMs.p50, t.latencyMs.p99, t.latencyMs.max, t.latencyMs.cells))
        print(String(format: "  stages per frame: arrival → processed %.2f ms, reconstruct %.2f ms, classify %.2f ms", t.stagesMs["frame"] ?? 0, t.stagesMs["reconstruct"] ?? 0, t.stagesMs["classify"] ?? 0))
        let daemon = t.cpuMsPerFrame["daemon"] ?? t.cpuMsPerFrame["worker"] ?? 0
        let aggregator = t.cpuMsPerFrame["aggregator"].map { String(format: ", aggregator %.2f ms", $0) } ?? ""
        print(String(format: "  CPU per frame: %@ %.2f ms (%.2f× one FFT of the frame, %.2f ms)%@, camera and subscriber %.2f ms", t.workerProcesses > 0 ? "workers" : "daemon", daemon, daemon / t.fftOnlyMs, t.fftOnlyMs, aggregator, t.cpuMsPerFrame["camera_and_subscriber"] ?? 0))
        print("  frames: sent \(f.sent), received \(f.received), processed \(f.processed); drops \(t.dropsTotal) \(t.drops.filter { $0.value > 0 })")
        print("  queue depth max \(t.queueDepthMax) of \(t.queueCapacity); camera late by up to \(String(format: "%.1f", t.senderMaxLatenessMs)) ms")
        print("  cells published \(t.cellsPublished), twin's truth \(t.cellsTrue); counted twice \(t.labels.countedTwice), unmatched \(t.labels.unmatched)")
        let l = t.labels
        print(String(format: "  labels: %.1f %% agree with the twin's truth (%d of %d matched cells; %d unknown)", l.accuracy * 100, l.agree, l.agree + l.disagree + l.unknown, l.unknown))
    }
}
