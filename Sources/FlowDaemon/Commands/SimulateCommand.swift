import ArgumentParser
import Foundation
import Protocol
import Simulator

/// `flowd simulate`: the digital twin as a camera. Writes holograms, the reference and the
/// ground truth to a folder (docs/simulator.md describes the layout).
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate holograms of flowing cells with ground truth (the rig's digital twin).",
        discussion: """
            Writes to --out: reference.npy/.tif (cell-free hologram), holograms/NNNNNN.npy/.tif, \
            truth/opd_NNNNNN.npy (true OPD, nm, float32), truth.jsonl (one line per frame: every \
            cell's id, class, label, centre) and twin.json (the parameters).
            """)

    @OptionGroup var twin: TwinOptions

    @OptionGroup var optics: OpticsOptions

    @Option(help: "Number of frames.")
    var frames: Int = 100

    @Option(help: "Output folder (created).")
    var out: String

    @Option(help: "Image formats to write: npy, tiff or npy,tiff.")
    var format: String = "npy,tiff"

    @Flag(help: "Do not write the true OPD maps (they are 4 bytes per pixel per frame).")
    var noTruthMaps = false

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        let formats = Set(format.split(separator: ",").map(String.init))
        guard !formats.isEmpty, formats.isSubset(of: ["npy", "tiff"]) else {
            throw ValidationError("--format must list npy and/or tiff")
        }
    }

    func run() async throws {
        let formats = Set(format.split(separator: ",").map(String.init))
        var twin = try self.twin.makeTwin(optics)
        let root = URL(fileURLWithPath: out)
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
        let optics = twin.camera.optics
        let meta = TwinMetadata(
            size: twin.flow.width, seed: twin.flow.seed, wavelengthNm: optics.wavelengthNm, pixelUm: optics.pixelUm,
            bitDepth: optics.bitDepth, frames: frames, pixelsPerFrame: twin.pixelsPerFrame, cells: seen.count)
        try encoder.encode(meta).write(to: root.appendingPathComponent("twin.json"), options: .atomic)
        print("flowd simulate: \(frames) frames, \(seen.count) cells → \(out)")
    }
}

/// One line of truth.jsonl.
struct TruthLine: Codable {
    var frame: Int
    var cells: [CellTruth]
}

/// twin.json: what a reader needs to reconstruct the folder.
struct TwinMetadata: Codable {
    var size: Int
    var seed: UInt64
    var wavelengthNm: Double
    var pixelUm: Double
    var bitDepth: Int
    var frames: Int
    var pixelsPerFrame: Double
    var cells: Int

    enum CodingKeys: String, CodingKey {
        case size, seed, wavelengthNm = "wavelength_nm", pixelUm = "pixel_um", bitDepth = "bit_depth", frames
        case pixelsPerFrame = "pixels_per_frame", cells
    }
}
