import ArgumentParser
import FlowdTools
import Foundation
import Simulator

/// `flowd simulate`: the digital twin as a camera (``TwinCamera``) or written to a folder (``TwinFolder``).
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate holograms of flowing cells with ground truth (the rig's digital twin).",
        discussion: """
            Writes to --out: reference.npy/.tif (cell-free hologram), holograms/NNNNNN.npy/.tif, \
            truth/opd_NNNNNN.npy (true OPD, nm, float32), truth.jsonl (one line per frame: every \
            cell's id, class, label, centre, focus_um, velocity_um_s) and twin.json (the parameters, \
            conditions and class-parameter hash). With --publish the \
            frames go to a ZeroMQ socket instead, rendered on a background thread (at most \
            --render-ahead frames ahead) and sent at --rate until --frames or SIGINT/SIGTERM; \
            --out, if given, receives the reference and twin.json at once and truth.jsonl line by \
            line as the frames are sent. With --phantom-parameters N, no frames: --out is a \
            JSON-lines file with the generative parameters of N phantoms per labelled class (for \
            scripts/bayes-ceiling). --conditions lab gives a real rig's flow, sample and reference \
            arm (docs/simulator.md).
            """)

    @OptionGroup var twin: TwinOptions

    @OptionGroup var optics: OpticsOptions

    @Option(help: "Number of frames (default: 100 to a folder; with --publish, until SIGINT or SIGTERM).")
    var frames: Int?

    @Option(help: "Output folder (created).")
    var out: String?

    @Option(help: "Publish frames on this ZeroMQ endpoint (e.g. tcp://127.0.0.1:5555) instead of writing them.")
    var publish: String?

    @Option(help: "Socket type for --publish: push (default; connects) or pub (binds).")
    var socket: String = "push"

    @Flag(inversion: .prefixedNo, help: "Bind instead of connect (default: bind for pub, connect for push).")
    var bind: Bool?

    @Option(help: "Frames per second to publish (default: the twin's camera rate, --fps).")
    var rate: Double?

    @Option(help: "With --publish: frames rendered ahead of sending, at most (1 MB each at 1024² 8-bit).")
    var renderAhead: Int = 32

    @OptionGroup(title: "CurveZMQ (with --publish, to a flowd with curve.server_key set)")
    var curve: CurveClientOptions

    @Option(help: "Image formats to write: npy, tiff or npy,tiff.")
    var format: String = "npy,tiff"

    @Flag(help: "Do not write the true OPD maps (they are 4 bytes per pixel per frame).")
    var noTruthMaps = false

    @Option(help: "Instead of frames: write the generative parameters of this many phantoms per labelled class to --out (a .jsonl file).")
    var phantomParameters: Int?

    func validate() throws {
        if let frames, frames <= 0 { throw ValidationError("--frames must be positive") }
        guard out != nil || publish != nil else { throw ValidationError("give --out DIR, --publish ENDPOINT or both") }
        if let phantomParameters {
            guard phantomParameters > 0, phantomParameters <= 10_000_000 else {
                throw ValidationError("--phantom-parameters must be 1–10000000")
            }
            guard publish == nil, out != nil else { throw ValidationError("--phantom-parameters writes to --out FILE, not to --publish") }
        }
        guard FramePublisher.Kind(rawValue: socket) != nil else { throw ValidationError("--socket must be push or pub") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        guard renderAhead > 0 else { throw ValidationError("--render-ahead must be positive") }
        let formats = Set(format.split(separator: ",").map(String.init))
        guard !formats.isEmpty, formats.isSubset(of: ["npy", "tiff"]) else {
            throw ValidationError("--format must list npy and/or tiff")
        }
    }

    func run() async throws {
        if let phantomParameters {
            return try PhantomParameterFile(
                perClass: phantomParameters, parameters: .named(twin.conditions.classParameters), seed: twin.seed,
                url: URL(fileURLWithPath: out!)
            ).write()
        }
        let twin = try self.twin.makeTwin(optics)
        if let publish {
            let kind = FramePublisher.Kind(rawValue: socket)!
            try await TwinCamera(
                twin: twin, endpoint: publish, kind: kind, bind: bind ?? (kind == .pub), rate: rate, renderAhead: renderAhead,
                frames: frames, curve: try curve.keys(), out: out
            ).run()
        } else {
            try TwinFolder(
                twin: twin, root: URL(fileURLWithPath: out!), frames: frames ?? 100,
                formats: Set(format.split(separator: ",").map(String.init)), truthMaps: !noTruthMaps
            ).run()
        }
    }
}
