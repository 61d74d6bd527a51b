import Foundation
import Reconstruction
import Simulator
import Testing

@testable import FlowdTools

@Suite("flowd extract --simulate writes each labelled cell's hidden parameters")
struct ExtractPhantomTests {
    /// The members of an `.npz` that NPZWriter wrote (a ZIP of stored members, APPNOTE 6.3:
    /// local header signature, the compressed size at byte 18, name and extra-field lengths at
    /// 26 and 28), each `.npy` of float32 (`<f4`) or int64 (`<i8`) values as floats.
    static func numericMembers(_ bytes: [UInt8]) -> [String: [Float]] {
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var members: [String: [Float]] = [:]
        var offset = 0
        while offset + 30 <= bytes.count, u32(offset) == 0x0403_4B50 {
            let size = u32(offset + 18), nameLength = u16(offset + 26), extra = u16(offset + 28)
            let name = String(decoding: bytes[(offset + 30)..<(offset + 30 + nameLength)], as: UTF8.self)
            let start = offset + 30 + nameLength + extra
            let npy = Array(bytes[start..<(start + size)])
            let headerEnd = 10 + (Int(npy[8]) | Int(npy[9]) << 8)
            let header = String(decoding: npy[10..<headerEnd], as: UTF8.self), key = name.replacingOccurrences(of: ".npy", with: "")
            func word(_ i: Int) -> UInt32 { UInt32(npy[i]) | UInt32(npy[i + 1]) << 8 | UInt32(npy[i + 2]) << 16 | UInt32(npy[i + 3]) << 24 }
            if header.contains("'<f4'") {
                members[key] = stride(from: headerEnd, to: npy.count, by: 4).map { Float(bitPattern: word($0)) }
            } else if header.contains("'<i8'") {
                members[key] = stride(from: headerEnd, to: npy.count, by: 8).map { Float(Int64(word($0)) | Int64(word($0 + 4)) << 32) }
            }
            offset = start + size
        }
        return members
    }

    @Test("the crops of labelled cells carry the parameters of the very cell they show; other objects NaN")
    func phantomParameters() throws {
        // A 128 µm field of 0.25 µm pixels where cells cross in a few frames (as the tracking
        // specifications use), doublets and debris among them.
        var optics = RigOptics()
        optics.magnification = optics.cameraPixelUm / 0.25
        var flow = FlowConfiguration()
        (flow.width, flow.height, flow.seed, flow.concentrationPerMicrolitre, flow.velocityUmPerSecond) = (512, 512, 4, 12000, 6000)
        flow.mixture = [.healthy: 1, .primaryCancer: 1, .metastaticCancer: 1, .doublet: 1, .debris: 1]
        flow.classParameters = .broad
        let twin = try DigitalTwin(flow: flow, optics: optics)
        var parameters = ReconstructionParameters()
        (parameters.pixelUm, parameters.wavelengthNm) = (optics.pixelUm, optics.wavelengthNm)
        // Keep what the daemon would reject as no single cell (small, elongated or ragged), so
        // that debris and doublets reach the file.
        (parameters.minAreaUm2, parameters.maxAspectRatio, parameters.minEllipseFill) = (3, 4, 0)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("phantoms-\(UUID().uuidString).npz")
        defer { try? FileManager.default.removeItem(at: out) }
        try CropExtraction(source: .simulation(twin, frames: 24), parameters: parameters, velocityPixels: nil, out: out.path).run()

        let arrays = Self.numericMembers(Array(try Data(contentsOf: out)))
        for name in PhantomParameters.names { #expect(arrays["phantom_" + name] != nil, "no phantom_\(name)") }
        let diameters = try #require(arrays["phantom_diameter_um"]), lengths = try #require(arrays["phantom_texture_length_um"])
        let areas = try #require(arrays["area_um2"]), labels = try #require(arrays["label"])
        let broadLengths = CellClass.labelled.map { Float(ClassParameters.broad.population($0)!.textureLengthUm) }
        // Exactly the crops of labelled cells (label ≥ 0) have parameters.
        #expect(diameters.indices.allSatisfy { diameters[$0].isNaN == (labels[$0] < 0) })
        var labelled = 0
        for k in diameters.indices where !diameters[k].isNaN {
            labelled += 1
            #expect(broadLengths.contains(lengths[k]))
            // The cell under the crop is the one whose parameters were written: its drawn
            // diameter matches the segmented area's equivalent diameter.
            let measured = (4 * areas[k] / .pi).squareRoot()
            #expect(abs(measured - diameters[k]) < 0.25 * diameters[k], "crop \(k): \(measured) µm vs drawn \(diameters[k]) µm")
        }
        #expect(labelled >= 5)
        #expect(labelled < diameters.count, "the doublets and debris should give NaN rows")
    }
}
