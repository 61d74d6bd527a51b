import ArgumentParser
import FlowdTools
import Foundation
import Protocol

/// `flowd demo`, the README's main job: ``DemoSession``.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the simulated camera and the daemon side by side, show the live counts, and score them against the ground truth.",
        discussion: """
            Each run gets a folder under --out (printed at the start) holding the camera's ground \
            truth (camera/truth.jsonl, twin.json, reference.npy), the logs of both processes, and \
            the daemon's records (records/<run id>/cells.fcs and run.json). The camera sends \
            --duration × --rate frames; Ctrl-C stops early and still prints the summary of what \
            was sent. The twin runs at lab conditions unless --conditions ideal: cells at random \
            depths and Poiseuille speeds, debris, doublets and sperm in the sample, a drifting \
            reference arm. The optics are the daemon's defaults (\(DefaultOptics.pixelUm) µm pixels, \(Int(DefaultOptics.wavelengthNm)) nm) \
            unless --pixel-um; docs/simulator.md explains the summary.
            """)

    @Option(help: "Seconds of camera frames to send (frames = duration × rate).")
    var duration: Double = 60

    @Option(help: "Frames per second the camera sends (wall clock).")
    var rate: Double = 15

    @OptionGroup var frame: FrameSizeOption

    @Option(help: "Cells per µL of sample (the twin's concentration).")
    var concentration: Double = 15000

    @Option(
        help: ArgumentHelp(
            "Pixel size in the sample plane, µm, of the camera and the daemon (default: the daemon's, \(DefaultOptics.pixelUm)).",
            discussion: "The daemon's tracking settings follow: 20 µm of flow per frame, an 8 µm gate."))
    var pixelUm: Double?

    @Option(help: "Random seed of the twin: the same seed gives the same cells.")
    var seed: UInt64 = 1

    @OptionGroup var model: ShippedModelOption

    @Option(help: "Folder for the runs; each run gets a new subfolder.")
    var out: String = "out/demo"

    @Option(help: "Also write the summary as JSON to this file.")
    var summaryJson: String?

    @OptionGroup(title: "The twin's conditions (a preset; each option below overrides one of its effects)")
    var conditions: TwinConditionOptions

    func validate() throws {
        guard duration > 0, rate > 0, concentration > 0 else {
            throw ValidationError("--duration, --rate and --concentration must be positive")
        }
        if let pixelUm, !(pixelUm > 0.01 && pixelUm < 10) { throw ValidationError("--pixel-um must be in 0.01–10 µm") }
    }

    func run() async throws {
        var session = DemoSession(
            duration: duration, rate: rate, size: frame.size, concentration: concentration, pixelUm: pixelUm,
            seed: seed, model: model.model, out: out, summaryJson: summaryJson)
        session.twinArguments = conditions.arguments(preset: .lab)
        try await session.run()
    }
}
