import Foundation
import Reconstruction
import Testing

@testable import FlowDaemon

@Suite("Pipeline parts")
struct PipelinePartsTests {
    @Test("the reorder buffer releases results in ordinal order, whatever order workers finish them in")
    func reorder() {
        var buffer = ReorderBuffer<String>()
        #expect(buffer.insert("c", ordinal: 2).isEmpty)
        #expect(buffer.insert("b", ordinal: 1).isEmpty)
        #expect(buffer.waiting == 2)
        #expect(buffer.insert("a", ordinal: 0) == ["a", "b", "c"])
        #expect(buffer.insert("d", ordinal: 3) == ["d"])
        #expect(buffer.insert("f", ordinal: 5).isEmpty)
        #expect(buffer.drain() == ["f"])
        #expect(buffer.next == 6)
    }

    @Test("labelled cells leave in cell-id order, whatever order the workers labelled them in")
    func releaseInOrder() {
        let stage = CameraStage(camera: "c", reconstructor: nil, phaseSign: .auto, tracking: .init(velocity: [10, 0], gatePixels: 5))
        var published: [UInt64] = []
        stage.releaseInOrder(cellID: 1) { published.append(1) }
        stage.releaseInOrder(cellID: 2) { published.append(2) }
        #expect(published.isEmpty, "cell 0 is still being labelled")
        stage.releaseInOrder(cellID: 0) { published.append(0) }
        #expect(published == [0, 1, 2])
        stage.releaseInOrder(cellID: 3) { published.append(3) }
        #expect(published == [0, 1, 2, 3])
    }

    @Test("the reference is the per-pixel median: a cell present in a minority of frames disappears")
    func medianReference() throws {
        let background: [Float] = [10, 20, 30, 40]
        var frames: [HologramImage] = []
        for k in 0..<5 {
            var values = background
            values[k % 4] += 500  // a "cell" on a different pixel in each frame
            frames.append(try HologramImage(rows: 2, cols: 2, values: values))
        }
        let reference = try MedianReference.median(of: frames)
        var out = [Float](repeating: 0, count: 4)
        reference.convert(into: &out)
        #expect(out == background)
        let even = try MedianReference.median(of: [try HologramImage(rows: 1, cols: 2, values: [1, 2]), try HologramImage(rows: 1, cols: 2, values: [3, 6])])
        var pair = [Float](repeating: 0, count: 2)
        even.convert(into: &pair)
        #expect(pair == [2, 4])
    }

    @Test("fusion is the renormalised geometric mean of the appearances' probabilities")
    func fusion() {
        let fused = ProbabilityFusion.fuse([[0.9, 0.1], [0.6, 0.4]])
        let a = (0.9 * 0.6).squareRoot(), b = (0.1 * 0.4).squareRoot()
        #expect(abs(fused[0] - a / (a + b)) < 1e-6)
        #expect(abs(fused.reduce(0, +) - 1) < 1e-12)
        // A zero probability (softmax underflow) weakens a class without vetoing it.
        let vetoed = ProbabilityFusion.fuse([[0, 1], [1, 0], [1, 0]])
        #expect(vetoed[0] > 0.9 && vetoed[1] > 0)
        #expect(ProbabilityFusion.fuse([]).isEmpty)
    }
}
