import ArgumentParser
import FlowdTools
/// `flowd bench reconstruct`: frames per second per core of the whole reconstruction (FFT,
/// filter, inverse FFT, phase, background, segmentation, unwrapping, features, crops) on
/// simulated holograms, next to the plain FFTW r2c of the same size (the floor everyone pays).
struct BenchReconstruct: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Measure the reconstruction on one core.",
        discussion: "Holograms come from the digital twin (8-bit by default, several cells each). Single thread.")

    @Option(help: "Hologram width and height, pixels.")
    var size: Int = 1024

    @Option(help: "Frames to time (after one warm-up pass).")
    var frames: Int = 400

    @Option(help: "Camera bit depth of the simulated holograms: 8, 12 or 16.")
    var bitDepth: Int = 8

    @Option(help: "Distinct simulated holograms cycled through.")
    var holograms: Int = 16

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard size >= 64, size <= 4096, size % 2 == 0 else { throw ValidationError("--size must be even, 64–4096") }
        guard frames > 0, holograms > 0 else { throw ValidationError("--frames and --holograms must be positive") }
        guard [8, 12, 16].contains(bitDepth) else { throw ValidationError("--bit-depth must be 8, 12 or 16") }
    }

    func run() async throws {
        try ReconstructBenchmark(size: size, frames: frames, bitDepth: bitDepth, holograms: holograms, json: json).run()
    }
}
