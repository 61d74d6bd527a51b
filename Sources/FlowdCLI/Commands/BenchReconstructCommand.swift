import ArgumentParser
import FlowdTools
/// `flowd bench reconstruct`: ``ReconstructBenchmark``.
struct BenchReconstruct: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Measure the reconstruction on one core.",
        discussion: "Holograms come from the digital twin (8-bit by default, several cells each). Single thread.")

    @OptionGroup var frame: FrameSizeOption

    @Option(help: "Frames to time (after one warm-up pass).")
    var frames: Int = 400

    @Option(help: "Camera bit depth of the simulated holograms: 8, 12 or 16.")
    var bitDepth: Int = 8

    @Option(help: "Distinct simulated holograms cycled through.")
    var holograms: Int = 16

    @OptionGroup var report: JSONReportOption

    func validate() throws {
        guard frames > 0, holograms > 0 else { throw ValidationError("--frames and --holograms must be positive") }
        guard [8, 12, 16].contains(bitDepth) else { throw ValidationError("--bit-depth must be 8, 12 or 16") }
    }

    func run() async throws {
        try ReconstructBenchmark(
            size: frame.size, frames: frames, bitDepth: bitDepth, holograms: holograms, json: report.json).run()
    }
}
