import Foundation
import Simulator
import Testing

@testable import FlowdTools

@Suite("flowd simulate's folder")
struct TwinFolderTests {
    @Test("at lab conditions, truth.jsonl gives every cell's focus_um and velocity_um_s, and twin.json the conditions and the class-parameter hash")
    func labFolder() throws {
        var flow = FlowConfiguration(), optics = RigOptics()
        (flow.width, flow.height, flow.concentrationPerMicrolitre) = (128, 128, 60000)
        optics.magnification = optics.cameraPixelUm / 0.25
        TwinConditions.lab.apply(to: &flow, optics: &optics)
        flow.classParameters = .nucleusLessDense
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("twin-folder-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try TwinFolder(twin: DigitalTwin(flow: flow, optics: optics), root: root, frames: 2, formats: ["npy"], truthMaps: false).run()

        let lines = try String(contentsOf: root.appendingPathComponent("truth.jsonl"), encoding: .utf8).split(separator: "\n")
        let cells = lines.flatMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["cells"] as? [[String: Any]] ?? []
        }
        #expect(!cells.isEmpty)
        for cell in cells {
            #expect(cell["focus_um"] is Double && cell["velocity_um_s"] is Double)
        }
        let truth = try TruthFile.read(root.appendingPathComponent("truth.jsonl"))
        #expect(truth.values.flatMap { $0 }.allSatisfy { abs($0.focusUm) <= 15 && $0.velocityUmPerSecond > 0 })

        let meta = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("twin.json"))) as? [String: Any])
        #expect(meta["conditions"] as? String == "lab")
        #expect(meta["class_parameters"] as? String == "nucleus-less-dense")
        #expect(meta["class_parameters_sha256"] as? String == ClassParameters.nucleusLessDense.sha256)
        #expect(meta["flow_profile"] as? String == "poiseuille")
    }

    @Test("a twin.json of an older twin (without the conditions) still reads")
    func olderMetadata() throws {
        let old = #"{"bit_depth":8,"cells":3,"frames":2,"pixel_um":0.25,"pixels_per_frame":80,"seed":1,"size":128,"wavelength_nm":633}"#
        let meta = try JSONDecoder().decode(TwinMetadata.self, from: Data(old.utf8))
        #expect(meta.pixelsPerFrame == 80)
        #expect(meta.conditions == nil)
    }
}
