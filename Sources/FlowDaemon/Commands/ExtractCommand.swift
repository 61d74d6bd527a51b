import ArgumentParser
import Foundation
import FrameIngest
import Logging
import Protocol
import Reconstruction
import Simulator
import Tracking
import ZeroMQ

/// `flowd extract`: holograms → one OPD crop and one feature row per tracked cell, as the
/// training dataset file (.npz, design.md §3).
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

    @Option(help: "Cell displacement per frame along x, hologram pixels (tracking); default from the simulation.")
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
            guard velocityPx != nil else { throw ValidationError("--stream needs --velocity-px (cell displacement per frame)") }
            do { _ = try InputSpec(parsing: stream!) } catch { throw ValidationError("--stream: \(error)") }
            guard timeoutS > 0, frames.map({ $0 > 0 }) ?? true else { throw ValidationError("--timeout-s and --frames must be positive") }
        }
    }

    func run() async throws {
        var source = try makeSource()
        let parameters = try options.parameters(optics, wavelengthNm: source.wavelengthNm, pixelUm: source.pixelUm)
        let reconstructor: OffAxisReconstructor
        do { reconstructor = try OffAxisReconstructor(reference: source.reference, parameters: parameters) } catch let error as ReconstructionError {
            throw HologramFileError(error.description)
        }
        guard let velocity = velocityPx ?? source.pixelsPerFrame else {
            throw ValidationError("--velocity-px is needed: the folder has no twin.json to read the flow speed from")
        }
        let workspace = reconstructor.makeWorkspace()
        var tracker = FlowTracker(configuration: .init(velocity: [velocity, 0], gatePixels: 8 / parameters.pixelUm))
        var tracks: [FlowTracker.Track] = []
        var truthByFrame: [Int: [CellTruth]] = [:]
        var frameCount = 0
        while let (index, image, truth) = try source.next() {
            let cells: [DetectedCell]
            do { cells = try reconstructor.process(image, workspace: workspace) } catch let error as ReconstructionError {
                throw HologramFileError("frame \(index): \(error.description)")
            }
            tracks += tracker.update(frame: index, cells: cells)
            if let truth { truthByFrame[index] = truth }
            frameCount += 1
        }
        tracks += tracker.finish()
        // Each cell counts once, if it was wholly in view at least once.
        let counted = tracks.filter(\.wasWhollyInView).sorted { $0.best.frame < $1.best.frame }
        let truth = truthByFrame.isEmpty ? nil : GroundTruth(frames: truthByFrame)
        try write(counted, truth: truth, parameters: parameters)
        var summary = "flowd extract: \(counted.count) cells from \(frameCount) frames → \(out)"
        if let truth {
            let trueCount = truth.countable.count
            let error = Double(counted.count - trueCount) / Double(max(trueCount, 1)) * 100
            summary += String(format: "\n  truth: %d cells wholly in view; count error %+.2f %%", trueCount, error)
        }
        print(summary)
    }

    private func write(_ tracks: [FlowTracker.Track], truth: GroundTruth?, parameters: ReconstructionParameters) throws {
        let s = parameters.cropSize
        var opd: [Float] = []
        opd.reserveCapacity(tracks.count * s * s)
        var labels: [Int64] = [], frames: [Int64] = [], appearances: [Int64] = [], truthIDs: [Int64] = []
        var xs: [Float] = [], ys: [Float] = [], truthClasses: [String] = []
        var features = [[Float]](repeating: [], count: CellFeatures.names.count)
        for track in tracks {
            let best = track.best
            opd += best.cell.crop
            let owner = truth?.cell(frame: best.frame, x: best.cell.x, y: best.cell.y)
            labels.append(Int64(owner?.label ?? -1))
            truthIDs.append(Int64(owner?.id ?? -1))
            truthClasses.append(owner?.cellClass.rawValue ?? "none")
            frames.append(Int64(best.frame))
            appearances.append(Int64(track.appearances.count))
            xs.append(Float(best.cell.x))
            ys.append(Float(best.cell.y))
            for (k, v) in best.cell.features.values.enumerated() { features[k].append(Float(v)) }
        }
        let n = tracks.count
        var npz = NPZWriter()
        npz.add("opd", try NumPyArray(float32: opd, shape: [n, s, s]))
        npz.add("label", try NumPyArray(int64: labels, shape: [n]))
        npz.add("classes", strings: CellClass.labelled.map(\.rawValue))
        for (k, name) in CellFeatures.names.enumerated() { npz.add(name, try NumPyArray(float32: features[k], shape: [n])) }
        npz.add("frame", try NumPyArray(int64: frames, shape: [n]))
        npz.add("appearances", try NumPyArray(int64: appearances, shape: [n]))
        npz.add("x", try NumPyArray(float32: xs, shape: [n]))
        npz.add("y", try NumPyArray(float32: ys, shape: [n]))
        if truth != nil {
            npz.add("truth_id", try NumPyArray(int64: truthIDs, shape: [n]))
            npz.add("truth_class", strings: truthClasses)
        }
        npz.add("pixel_um", try NumPyArray(float32: [Float(parameters.cropPixelUm)], shape: []))
        try npz.write(to: URL(fileURLWithPath: out))
    }

    private func makeSource() throws -> ExtractSource {
        if let frames = simulate { return try .simulation(twin.makeTwin(optics), frames: frames) }
        if let stream {
            let logger = Logger(label: "flowd-extract") { JournalLogHandler(label: $0, level: .warning) }
            let ingest = try FrameIngest(
                inputs: [try InputSpec(parsing: stream)], settings: IngestSettings(), context: ZMQContext(),
                malformedLog: RateLimitedLog(logger: logger), logger: logger)
            return .stream(
                ingest, reference: try HologramFiles.hologram(reference!), frames: frames, timeoutSeconds: timeoutS,
                wavelengthNm: optics.wavelengthNm, pixelUm: optics.pixelUm)
        }
        return try .folder(URL(fileURLWithPath: holograms!), reference: reference)
    }
}
