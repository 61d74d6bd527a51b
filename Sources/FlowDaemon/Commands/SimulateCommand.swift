import ArgumentParser
import Foundation
import Protocol
import ZeroMQ
import Simulator

/// `flowd simulate`: the digital twin as a camera. Writes holograms, the reference and the
/// ground truth to a folder (docs/simulator.md describes the layout), or publishes the frames
/// over ZeroMQ (frame message v1) at a set rate.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate holograms of flowing cells with ground truth (the rig's digital twin).",
        discussion: """
            Writes to --out: reference.npy/.tif (cell-free hologram), holograms/NNNNNN.npy/.tif, \
            truth/opd_NNNNNN.npy (true OPD, nm, float32), truth.jsonl (one line per frame: every \
            cell's id, class, label, centre) and twin.json (the parameters). With --publish the \
            frames go to a ZeroMQ socket instead (computed first, then sent at --rate), and --out, \
            if given, receives only the reference, truth.jsonl and twin.json.
            """)

    @OptionGroup var twin: TwinOptions

    @OptionGroup var optics: OpticsOptions

    @Option(help: "Number of frames.")
    var frames: Int = 100

    @Option(help: "Output folder (created).")
    var out: String?

    @Option(help: "Publish frames on this ZeroMQ endpoint (e.g. tcp://127.0.0.1:5555) instead of writing them.")
    var publish: String?

    @Option(help: "Socket type for --publish: push (default; connects) or pub (binds).")
    var socket: String = "push"

    @Flag(inversion: .prefixedNo, help: "Bind instead of connect (default: bind for pub, connect for push).")
    var bind: Bool?

    @Option(help: "Frames per second to publish.")
    var rate: Double = 200

    @Flag(help: "With --publish: send the frames again and again (seq keeps counting) until stopped.")
    var loop = false

    @OptionGroup(title: "CurveZMQ (with --publish, to a flowd with curve.server_key set)")
    var curve: CurveClientOptions

    @Option(help: "Image formats to write: npy, tiff or npy,tiff.")
    var format: String = "npy,tiff"

    @Flag(help: "Do not write the true OPD maps (they are 4 bytes per pixel per frame).")
    var noTruthMaps = false

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        guard out != nil || publish != nil else { throw ValidationError("give --out DIR, --publish ENDPOINT or both") }
        guard FramePublisher.Kind(rawValue: socket) != nil else { throw ValidationError("--socket must be push or pub") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        let formats = Set(format.split(separator: ",").map(String.init))
        guard !formats.isEmpty, formats.isSubset(of: ["npy", "tiff"]) else {
            throw ValidationError("--format must list npy and/or tiff")
        }
    }

    func run() async throws {
        var twin = try self.twin.makeTwin(optics)
        if let publish {
            try await publishFrames(twin: &twin, endpoint: publish)
        } else {
            try writeFolder(twin: &twin, root: URL(fileURLWithPath: out!))
        }
    }

    /// Computes the frames (writing the truth if --out is given), then sends them at --rate.
    private func publishFrames(twin: inout DigitalTwin, endpoint: String) async throws {
        let kind = FramePublisher.Kind(rawValue: socket)!
        let context = ZMQContext()
        let publisher = try FramePublisher(
            context: context, kind: kind, endpoint: endpoint, bind: bind ?? (kind == .pub), curve: try curve.keys())
        var shots: [Frame] = []
        var seen = Set<Int>()
        var lines = Data()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for i in 0..<frames {
            let (frame, truth) = twin.nextFrame()
            shots.append(frame)
            seen.formUnion(truth.cells.map(\.id))
            lines += try encoder.encode(TruthLine(frame: i, cells: truth.cells)) + [0x0A]
        }
        if let out {
            let root = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try HologramFiles.write(twin.reference(), npy: root.appendingPathComponent("reference.npy"), tiff: nil)
            try lines.write(to: root.appendingPathComponent("truth.jsonl"), options: .atomic)
            try TwinMetadata(twin, frames: frames, cells: seen.count).write(to: root)
        }
        print("flowd simulate: publishing \(frames) frames (\(kind.rawValue)) on \(endpoint) at \(rate) frames/s")
        let start = ContinuousClock.now
        var seq: UInt64 = 0
        repeat {
            for shot in shots {
                let due = start + .seconds(Double(seq) / rate)
                if due > .now { try await Task.sleep(until: due) }
                var header = shot.header
                header.seq = seq
                header.timeNanoseconds = Int64(Date().timeIntervalSince1970 * 1e9)
                try publisher.send(Frame(header: header, pixels: shot.pixels))
                seq += 1
            }
        } while loop
        let elapsed = start.duration(to: .now).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        print(String(format: "flowd simulate: sent %llu frames in %.2f s (%.0f frames/s)", seq, seconds, Double(seq) / max(seconds, 1e-9)))
    }

    private func writeFolder(twin: inout DigitalTwin, root: URL) throws {
        let formats = Set(format.split(separator: ",").map(String.init))
        let fm = FileManager.default
        for dir in ["holograms", "truth"] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        func write(_ frame: Frame, _ base: URL) throws {
            try HologramFiles.write(
                frame, npy: formats.contains("npy") ? base.appendingPathExtension("npy") : nil,
                tiff: formats.contains("tiff") ? base.appendingPathExtension("tif") : nil)
        }
        try write(twin.reference(), root.appendingPathComponent("reference"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var lines = Data()
        var seen = Set<Int>()
        for i in 0..<frames {
            let (frame, truth) = twin.nextFrame()
            let name = String(format: "%06d", i)
            try write(frame, root.appendingPathComponent("holograms/\(name)"))
            if !noTruthMaps {
                try HologramFiles.writeFloat(truth.opdNm, rows: twin.flow.height, cols: twin.flow.width, to: root.appendingPathComponent("truth/opd_\(name).npy"))
            }
            lines += try encoder.encode(TruthLine(frame: i, cells: truth.cells))
            lines.append(0x0A)
            seen.formUnion(truth.cells.map(\.id))
        }
        try lines.write(to: root.appendingPathComponent("truth.jsonl"), options: .atomic)
        try TwinMetadata(twin, frames: frames, cells: seen.count).write(to: root)
        print("flowd simulate: \(frames) frames, \(seen.count) cells → \(root.path)")
    }
}
