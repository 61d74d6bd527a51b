import Foundation
import Protocol
import Reconstruction
import Simulator
import Testing
import TwinFlowTestSupport

@Suite("Segmentation of isolated cells")
struct SegmentationTests {
    @Test("recall and precision ≥ 99 % over simulated flow frames")
    func recallAndPrecision() throws {
        var twin = try smallFlow(seed: 31)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: twin.reference()), parameters: parameters(for: twin))
        let workspace = reconstructor.makeWorkspace()
        var truthCells = 0, found = 0, detections = 0, matched = 0
        for _ in 0..<50 {
            let (frame, truth) = twin.nextFrame()
            let cells = try reconstructor.process(HologramImage(frame: frame), workspace: workspace, crops: false)
            // Recall over cells wholly in view; precision over every detection, against every
            // cell at least partly in view.
            for t in truth.cells where t.fullyInside {
                truthCells += 1
                if cells.contains(where: { hypot($0.x - t.x, $0.y - t.y) < t.extentPixels * 0.5 }) { found += 1 }
            }
            for c in cells {
                detections += 1
                if truth.cells.contains(where: { hypot(c.x - $0.x, c.y - $0.y) < $0.extentPixels }) { matched += 1 }
            }
        }
        let recall = Double(found) / Double(truthCells), precision = Double(matched) / Double(detections)
        print("segmentation: \(truthCells) whole cells, recall \(recall), precision \(precision) over \(detections) detections")
        #expect(truthCells >= 100)
        #expect(recall >= 0.99)
        #expect(precision >= 0.99)
    }

    @Test("doublets are rejected by the shape filter")
    func doublets() throws {
        var twin = try smallFlow(seed: 33, mixture: [.doublet: 1])
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: twin.reference()), parameters: parameters(for: twin))
        let workspace = reconstructor.makeWorkspace()
        var doublets = 0, detections = 0
        for _ in 0..<20 {
            let (frame, truth) = twin.nextFrame()
            doublets += truth.cells.filter(\.fullyInside).count
            detections += try reconstructor.process(HologramImage(frame: frame), workspace: workspace, crops: false)
                .filter { !$0.touchesEdge }.count
        }
        #expect(doublets > 20)
        // A doublet whose contact falls below the mask threshold splits into two single cells,
        // which rightly pass; whole doublets do not.
        #expect(Double(detections) <= 0.1 * Double(doublets))
    }

    @Test("debris is rejected by the size filter")
    func sizeFilter() throws {
        var twin = try smallFlow(seed: 32, mixture: [.debris: 1])
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: twin.reference()), parameters: parameters(for: twin))
        let workspace = reconstructor.makeWorkspace()
        var debris = 0, detections = 0
        for _ in 0..<20 {
            let (frame, truth) = twin.nextFrame()
            debris += truth.cells.filter(\.fullyInside).count
            detections += try reconstructor.process(HologramImage(frame: frame), workspace: workspace, crops: false).count
        }
        #expect(debris > 10)
        #expect(detections == 0)
    }
}
