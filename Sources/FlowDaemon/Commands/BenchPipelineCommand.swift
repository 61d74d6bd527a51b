import ArgumentParser
import Foundation

/// `flowd bench pipeline`: the whole live pipeline under a camera's fixed frame rate, measured
/// from outside as an operator would see it: frames and cells per second sustained, latency of
/// the published labels, and every frame lost, by reason.
///
/// Each rate gets a fresh `flowd run` child process with the model, fed over loopback TCP by a
/// camera in this process that replays the digital twin's holograms (``TwinFramePool``,
/// rendered before any timing); see ``PipelineTrial`` for the phases. Issue 6's bar: 1024²
/// holograms at ≥ 200 frames/s with about 5 cells per frame, zero drops, p99 ≤ 20 ms.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Measure flowd run end to end: frames/s, cells/s, label latency and drops at a fixed camera rate.",
        discussion: """
            The camera (this process) and the daemon share the machine, as they do in this benchmark's \
            set-up; the load average before and after each trial is reported. --rates runs one trial per \
            rate and reports the highest rate that met the bar.
            """)

    @Option(help: "Frames per second the camera sends.")
    var rate: Double = 200

    @Option(help: "Comma-separated rates, one trial each (instead of --rate), e.g. 100,200,300.", transform: parseRates)
    var rates: [Double]?

    @Option(help: "Seconds of the timed window per trial.")
    var seconds: Double = 20

    @Option(help: "Seconds at the full rate before the window (after the reference frames).")
    var warmup: Double = 2

    @Option(help: "Hologram width and height, pixels.")
    var size: Int = 1024

    @Option(help: "Frame workers of the daemon (default: its own, one per core).")
    var workers: Int?

    @Option(help: "Classifier model file.")
    var model: String = "models/topgan-default.safetensors"

    @Option(help: "Distinct holograms rendered and replayed in a loop.")
    var poolFrames: Int = 400

    @Option(help: "Cells per µL of the simulated sample (the default shows about 5 cells per 1024² frame).")
    var concentration: Double = 12500

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    static func parseRates(_ text: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--rates must be positive numbers separated by commas, e.g. 100,200,300; got \(text)")
        }
        return values.compactMap { $0 }
    }

    func validate() throws {
        guard rate > 0, seconds > 0, warmup >= 0 else { throw ValidationError("--rate and --seconds must be positive, --warmup ≥ 0") }
        guard size >= 64, size <= 4096, size % 2 == 0 else { throw ValidationError("--size must be even, 64–4096") }
        guard poolFrames >= PipelineTrial.referenceFrames else {
            throw ValidationError("--pool-frames must be at least \(PipelineTrial.referenceFrames)")
        }
        guard concentration >= 0 else { throw ValidationError("--concentration must not be negative") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be 1–256") }
        guard FileManager.default.isReadableFile(atPath: model) else {
            throw ValidationError("no readable model file at \(model) (--model)")
        }
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        progress("rendering \(poolFrames) holograms of \(size)² with the digital twin on \(cores) cores…")
        let pool = try TwinFramePool(size: size, count: poolFrames, concentration: concentration, segments: cores)
        progress(String(format: "%.1f cells in view per frame; %.0f px per frame", pool.cellsInViewPerFrame, pool.pixelsPerFrame))
        var report = BenchPipelineReport(
            size: size, model: model, poolFrames: pool.frames.count, cellsInViewPerFrame: pool.cellsInViewPerFrame,
            seconds: seconds, warmupSeconds: warmup, cores: cores, trials: [])
        for rate in rates ?? [rate] {
            progress("trial at \(Int(rate)) frames/s: \(Int(warmup)) s warm-up, \(seconds) s timed…")
            let trial = try PipelineTrial(
                pool: pool, model: model, rate: rate, warmupSeconds: warmup, seconds: seconds, workers: workers,
                bar: report.bar
            ).run()
            report.trials.append(trial)
            if !json { show(trial) }
        }
        report.sustainableRate = report.trials.filter(\.met).map(\.rate).max()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
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
        print("  \(t.workers) workers × \(t.inferenceThreadsPerWorker) inference thread(s), OpenBLAS core \(t.blasCore)")
        print(String(format: "  sustained %.1f frames/s, %.1f cells/s, %.1f crops classified/s over %.1f s", t.framesPerSecond, t.cellsPerSecond, t.classifiedPerSecond, t.windowSeconds))
        print(String(format: "  latency (frame arrival → label published) p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d cells", t.latencyMs.p50, t.latencyMs.p99, t.latencyMs.max, t.latencyMs.cells))
        print(String(format: "  stages per frame: arrival → processed %.2f ms, reconstruct %.2f ms, classify %.2f ms", t.stagesMs["frame"] ?? 0, t.stagesMs["reconstruct"] ?? 0, t.stagesMs["classify"] ?? 0))
        print(String(format: "  CPU per frame: daemon %.2f ms, camera and subscriber %.2f ms", t.cpuMsPerFrame["daemon"] ?? 0, t.cpuMsPerFrame["camera_and_subscriber"] ?? 0))
        print("  frames: sent \(f.sent), received \(f.received), processed \(f.processed); drops \(t.dropsTotal) \(t.drops.filter { $0.value > 0 })")
        print("  queue depth max \(t.queueDepthMax) of \(t.queueCapacity); camera late by up to \(String(format: "%.1f", t.senderMaxLatenessMs)) ms")
        print("  cells published \(t.cellsPublished), twin's truth \(t.cellsTrue)")
        let l = t.labels
        print(String(format: "  labels: %.1f %% agree with the twin's truth (%d of %d matched cells; %d unknown)", l.accuracy * 100, l.agree, l.agree + l.disagree + l.unknown, l.unknown))
    }
}
