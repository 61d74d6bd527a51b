import Foundation
import Protocol
import Reconstruction
import Testing

@testable import FlowDaemon

@Suite("cells.rtdc: the class ids, the masks and the columns of a batch")
struct RtdcLayoutTests {
    @Test("ml_score ids: three lower-case letters or digits, distinct, the known classes' documented ones")
    func classIDs() {
        #expect(RtdcEventLayout.ids(for: ["healthy", "primary_cancer", "metastatic_cancer"]) == ["hea", "pri", "met"])
        #expect(RtdcEventLayout.ids(for: ["T-Cell", "tcells", "B"]) == ["tce", "c01", "c02"])
    }

    @Test("the mask is the cell connected to the crop's centre; a neighbour reaching into the crop stays out")
    func mask() {
        let size = 8
        var crop = [Float](repeating: 0, count: size * size)
        for y in 3..<6 { for x in 3..<6 { crop[y * size + x] = 100 } }  // the cell, at the centre
        crop[0] = 100  // a neighbour's edge in the corner
        let mask = CropMask.mask(of: crop, size: size, thresholdNm: 20)
        #expect(mask.reduce(0) { $0 + Int($1) } == 9)
        #expect(mask[0] == 0 && mask[4 * size + 4] == 1)
        #expect(CropMask.mask(of: [Float](repeating: 5, count: 64), size: 8, thresholdNm: 20).allSatisfy { $0 == 0 })
    }

    @Test("a batch's columns: phase in rad, 1-based index, positions in µm, scores per class, userdef values")
    func columns() {
        let layout = RtdcEventLayout(
            modelClasses: ["healthy", "primary_cancer"],
            optics: .init(
                cropSize: 2, cropPixelUm: 0.3, hologramPixelUm: 0.5, wavelengthNm: 600, maskThresholdNm: 20,
                mediumIndex: 1.335))
        let message = CellMessage(
            camera: "cam", cellID: 7, seq: 42, tNanoseconds: nil, xPixels: 10, yPixels: 4, bbox: [0, 0, 1, 1],
            label: "healthy", probabilities: ["healthy": 0.75, "primary_cancer": 0.25],
            features: ["area_um2": 80, "dry_mass_pg": 30, "mean_opd_nm": 120, "focus_um": -2.5], framesSeen: 5,
            latencyMilliseconds: 3)
        let cell = RtdcEventLayout.Cell(message: message, crop: [300, 0, 0, 0], seconds: 1.5, category: 0, camera: 0)
        let columns = layout.columns(of: [cell], firstIndex: 9)
        #expect(Set(columns.keys) == Set(layout.imageFeatures.map(\.0) + layout.scalarFeatures.map(\.0)))
        guard case .float32(let phase)? = columns["qpi_pha"], case .uint32(let index)? = columns["index"],
            case .float64(let x)? = columns["pos_x"], case .float64(let score)? = columns["ml_score_pri"],
            case .uint64(let frame)? = columns["frame"], case .float64(let focus)? = columns["qpi_focus"]
        else {
            Issue.record("a column is missing or of the wrong type")
            return
        }
        #expect(abs(phase[0] - Float(300 * 2 * Double.pi / 600)) < 1e-5 && phase[1] == 0)
        #expect(index == [10] && x == [5] && score == [0.25] && frame == [42] && focus == [-2.5])
        let userdef = Dictionary(uniqueKeysWithValues: layout.userdefFeatures.enumerated().map { ($1, "userdef\($0)") })
        guard case .float64(let frames)? = columns[userdef["frames_seen"]!],
            case .float64(let meanOPD)? = columns[userdef["mean_opd_nm"]!]
        else {
            Issue.record("a userdef column is missing")
            return
        }
        #expect(frames == [5] && meanOPD == [120])
    }

    @Test("rejects.rtdc: the same images and features, no scores, the reason's index in place of the class")
    func rejectsLayout() {
        let optics = RtdcEventLayout.Optics(
            cropSize: 2, cropPixelUm: 0.3, hologramPixelUm: 0.5, wavelengthNm: 600, maskThresholdNm: 20, mediumIndex: 1.335)
        let cells = RtdcEventLayout(modelClasses: ["healthy", "primary_cancer"], optics: optics)
        let rejects = cells.rejects
        #expect(rejects.imageFeatures.map(\.0) == cells.imageFeatures.map(\.0))
        #expect(!rejects.scalarFeatures.contains { $0.0.hasPrefix("ml_score_") })
        #expect(rejects.userdefFeatures == cells.userdefFeatures.dropLast() + ["reason"])
        let message = CellMessage(
            camera: "cam", cellID: 0, seq: 3, tNanoseconds: nil, xPixels: 1, yPixels: 1, bbox: [0, 0, 1, 1],
            label: "too_small", probabilities: [:], features: ["area_um2": 2], framesSeen: 2, latencyMilliseconds: 1)
        let columns = rejects.columns(
            of: [.init(message: message, crop: [0, 0, 0, 0], seconds: 1, category: 0, camera: 0)], firstIndex: 0)
        guard case .float64(let reason)? = columns["userdef\(rejects.userdefFeatures.count - 1)"] else {
            Issue.record("the reason column is missing")
            return
        }
        #expect(reason == [0])
    }

    @Test("record.hologram_every: 2: events 1, 3, 5 … carry their hologram and reference tiles, the others zeros")
    func hologramSample() throws {
        let optics = RtdcEventLayout.Optics(
            cropSize: 2, cropPixelUm: 0.3, hologramPixelUm: 0.5, wavelengthNm: 600, maskThresholdNm: 20, mediumIndex: 1.335)
        let layout = RtdcEventLayout(modelClasses: [], optics: optics, holograms: .init(every: 2, side: 4))
        #expect(layout.imageFeatures.map(\.0) == ["qpi_pha", "mask", "qpi_oah", "qpi_oah_bg"])
        #expect(layout.imageFeatures.map(\.side) == [2, 2, 4, 4])
        #expect(layout.rejects.holograms == layout.holograms)
        let pixels = (0..<(6 * 6)).map { UInt8($0 + 1) }.withUnsafeBytes {
            HologramImage(frame: Frame(header: FrameHeader(dtype: .uint8, rows: 6, cols: 6), pixels: PixelBuffer(copying: $0)))
        }
        let tile = HologramTile(of: pixels, reference: pixels, centredOn: 3, 3, side: 4)
        let message = CellMessage(
            camera: "cam", cellID: 0, seq: 1, tNanoseconds: nil, xPixels: 3, yPixels: 3, bbox: [0, 0, 1, 1],
            label: "unclassified", probabilities: [:], features: [:], framesSeen: 1, latencyMilliseconds: 1)
        let cell = RtdcEventLayout.Cell(message: message, crop: [0, 0, 0, 0], hologram: tile, seconds: 1, category: 0, camera: 0)
        // Events 4, 5, 6 of the file (0-based 3, 4, 5): only the second is a sampled one.
        let columns = layout.columns(of: [cell, cell, cell], firstIndex: 3)
        guard case .uint8(let holograms)? = columns["qpi_oah"], case .uint8(let references)? = columns["qpi_oah_bg"] else {
            Issue.record("the hologram columns are missing")
            return
        }
        #expect(holograms.count == 3 * 16 && references.count == 3 * 16)
        #expect(Array(holograms[16..<32]) == tile.hologram && Array(references[16..<32]) == tile.reference)
        #expect(holograms[0..<16].allSatisfy { $0 == 0 } && holograms[32...].allSatisfy { $0 == 0 })
        #expect(!tile.hologram.allSatisfy { $0 == 0 })
    }

    @Test("a file that exists is never overwritten: creating it again fails and names it; the first stays usable")
    func neverOverwrites() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowd-\(UUID()).rtdc").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try RtdcWriter(
            path: path, imageFeatures: [("qpi_pha", .float32, side: 2)], scalarFeatures: [("index", .uint32)],
            metadata: [("experiment:sample", .text("first"))])
        try first.append(count: 1, ["qpi_pha": .float32([1, 2, 3, 4]), "index": .uint32([1])])
        #expect(throws: RtdcWriter.Failure.self) {
            try RtdcWriter(path: path, imageFeatures: [], scalarFeatures: [], metadata: [])
        }
        #expect(throws: RtdcWriter.Failure.self) { try first.append(count: 1, ["index": .uint32([2])]) }
        try first.append(count: 1, ["qpi_pha": .float32([5, 6, 7, 8]), "index": .uint32([2])])
        try first.flush()
        #expect(first.events == 2)
        first.close()
    }
}
