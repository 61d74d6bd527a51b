import FlowDaemon
import Foundation
import Protocol
import Simulator

/// `flowd simulate --out`: the digital twin's frames written to a folder (docs/simulator.md):
/// reference.npy/.tif, holograms/NNNNNN.npy/.tif, truth/opd_NNNNNN.npy (true OPD, nm),
/// truth.jsonl and twin.json.
public struct TwinFolder: Sendable {
    public var twin: DigitalTwin
    public var root: URL
    public var frames: Int
    /// Image formats: "npy", "tiff" or both.
    public var formats: Set<String>
    /// Write the true OPD maps (4 bytes per pixel per frame).
    public var truthMaps: Bool

    public init(twin: DigitalTwin, root: URL, frames: Int, formats: Set<String>, truthMaps: Bool) {
        (self.twin, self.root, self.frames, self.formats, self.truthMaps) = (twin, root, frames, formats, truthMaps)
    }

    public func run() throws {
        var twin = twin
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
        let truth = try TruthFile(creating: root.appendingPathComponent("truth.jsonl"))
        for i in 0..<frames {
            let (frame, frameTruth) = twin.nextFrame()
            let name = String(format: "%06d", i)
            try write(frame, root.appendingPathComponent("holograms/\(name)"))
            if truthMaps {
                try HologramFiles.writeFloat(
                    frameTruth.opdNm, rows: twin.flow.height, cols: twin.flow.width,
                    to: root.appendingPathComponent("truth/opd_\(name).npy"))
            }
            try truth.append(frame: i, cells: frameTruth.cells)
        }
        try TwinMetadata(twin, frames: truth.frames, cells: truth.cellIDs.count).write(to: root)
        print("flowd simulate: \(truth.frames) frames, \(truth.cellIDs.count) cells → \(root.path)")
    }
}
