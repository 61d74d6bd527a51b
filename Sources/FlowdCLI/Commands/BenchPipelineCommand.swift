import ArgumentParser
import FlowdTools
import Foundation
import Simulator

/// `flowd bench pipeline`: ``PipelineBenchmark``.
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

    @OptionGroup var frame: FrameSizeOption

    @Option(help: "Frame workers of the daemon (default: its own, one per core).")
    var workers: Int?

    @Option(help: "Worker processes (0: one flowd run): an aggregator and N `flowd run --role worker` of --workers frame workers each (default 1), the camera PUSHing round-robin to them (docs/scale-out.md).")
    var workerProcesses: Int = 0

    @OptionGroup var model: ShippedModelOption

    @Option(help: "Distinct holograms rendered and replayed in a loop.")
    var poolFrames: Int = 400

    @Option(help: "Cells per µL of the simulated sample (the default shows about 5 cells per 1024² frame).")
    var concentration: Double = 12500

    @Option(help: "The daemon's reconstruction.refocus: off (the frame path alone) or auto (refocus every cell view, the daemon's default).")
    var refocus: String = "off"

    @OptionGroup var report: JSONReportOption

    @OptionGroup(title: "The twin's conditions (a preset; each option below overrides one of its effects)")
    var conditions: TwinConditionOptions

    static func parseRates(_ text: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--rates must be positive numbers separated by commas, e.g. 100,200,300; got \(text)")
        }
        return values.compactMap { $0 }
    }

    func validate() throws {
        guard rate > 0, seconds > 0, warmup >= 0 else { throw ValidationError("--rate and --seconds must be positive, --warmup ≥ 0") }
        guard poolFrames >= PipelineBenchmark.minimumPoolFrames else {
            throw ValidationError("--pool-frames must be at least \(PipelineBenchmark.minimumPoolFrames)")
        }
        guard concentration >= 0 else { throw ValidationError("--concentration must not be negative") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be 1–256") }
        guard ["auto", "off"].contains(refocus) else { throw ValidationError("--refocus must be auto or off") }
        guard (0...64).contains(workerProcesses) else { throw ValidationError("--worker-processes must be 0–64") }
    }

    func run() throws {
        var benchmark = PipelineBenchmark(
            rates: rates ?? [rate], seconds: seconds, warmup: warmup, size: frame.size, workers: workers,
            model: model.model, poolFrames: poolFrames, concentration: concentration, json: report.json)
        benchmark.refocus = refocus
        benchmark.workerProcesses = workerProcesses
        conditions.apply(to: &benchmark.flow, optics: &benchmark.optics)
        try benchmark.run()
    }
}
