import ArgumentParser
import FlowDaemon
import FlowdTools
import Foundation
import FrameIngest

/// `flowd extract`: ``CropExtraction`` from a folder, the twin or a live stream (``ExtractSource``).
struct Extract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a hologram folder, a live camera stream or the simulator into a training dataset (.npz).",
        discussion: """
            Cells are tracked across frames and each physical cell is written once (its \
            appearance wholly in view with the largest area); cells never wholly in view are \
            skipped. Labels come from truth.jsonl when the folder has one (flowd simulate writes \
            it), else −1. Arrays: opd [N,S,S] float32 nm, label [N] int64, classes, one float32 \
            array per feature, frame, x, y, appearances; with truth also truth_id and truth_class.
            """)

    @Option(help: "A folder written by `flowd simulate` (or: reference.npy|tif and holograms/*.npy|tif).")
    var holograms: String?

    @Option(help: "The reference hologram, if not the folder's reference.npy/.tif.")
    var reference: String?

    @Option(help: "Simulate this many frames instead of reading a folder.")
    var simulate: Int?

    @Option(
        help: "Read frames from a camera, MODE:ENDPOINT as in `flowd run --input` (e.g. pull+bind:tcp://127.0.0.1:5555); needs --reference and --velocity-px.")
    var stream: String?

    @Option(help: "With --stream: stop after this many frames.")
    var frames: Int?

    @Option(help: "With --stream: stop when no frame arrives for this many seconds.")
    var timeoutS: Double = 10

    @OptionGroup var twin: TwinOptions

    @OptionGroup var optics: OpticsOptions

    @OptionGroup var options: ReconstructionOptions

    @Option(help: "A guess of the cells' displacement per frame along x, hologram pixels (tracking); default: the simulation's, else learned.")
    var velocityPx: Double?

    @Option(help: "Output dataset (.npz).")
    var out: String

    func validate() throws {
        guard [holograms != nil, simulate != nil, stream != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one source: --holograms DIR, --simulate FRAMES or --stream ENDPOINT")
        }
        if let simulate, simulate <= 0 { throw ValidationError("--simulate must be positive") }
        if stream != nil {
            guard reference != nil else { throw ValidationError("--stream needs --reference (a cell-free hologram of the rig)") }
            do { _ = try InputSpec(parsing: stream!) } catch { throw ValidationError("--stream: \(error)") }
            guard timeoutS > 0, frames.map({ $0 > 0 }) ?? true else { throw ValidationError("--timeout-s and --frames must be positive") }
        }
    }

    func run() async throws {
        let source = try makeSource()
        let parameters = try options.parameters(optics, wavelengthNm: source.wavelengthNm, pixelUm: source.pixelUm)
        try CropExtraction(source: source, parameters: parameters, velocityPixels: velocityPx, out: out).run()
    }

    private func makeSource() throws -> ExtractSource {
        if let frames = simulate { return try .simulation(twin.makeTwin(optics), frames: frames) }
        if let stream {
            return try .stream(
                InputSpec(parsing: stream), reference: try HologramFiles.hologram(reference!), frames: frames, timeoutSeconds: timeoutS,
                wavelengthNm: optics.wavelengthNm, pixelUm: optics.pixelUm)
        }
        return try .folder(URL(fileURLWithPath: holograms!), reference: reference)
    }
}
