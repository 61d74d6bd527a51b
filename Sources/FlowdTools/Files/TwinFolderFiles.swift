import Foundation
import Simulator

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

    init(_ twin: DigitalTwin, frames: Int, cells: Int) {
        let optics = twin.camera.optics
        size = twin.flow.width
        seed = twin.flow.seed
        wavelengthNm = optics.wavelengthNm
        pixelUm = optics.pixelUm
        bitDepth = optics.bitDepth
        self.frames = frames
        pixelsPerFrame = twin.pixelsPerFrame
        self.cells = cells
    }

    func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: folder.appendingPathComponent("twin.json"), options: .atomic)
    }
}
