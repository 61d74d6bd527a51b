import Foundation
import FrameIngest
import InferenceTestSupport
import Protocol
import Reconstruction
import Testing

@testable import FlowDaemon

@Suite("The live pipeline: frames in, each cell published once")
struct CellPipelineTests {
    @Test("two workers, a median reference: the published cells are the twin's cells wholly in view (±1)")
    func countsEachCellOnce() throws {
        var harness = try PipelineHarness(seed: 5, workers: 2)
        harness.run(frames: 60)
        let messages = harness.messages
        #expect(harness.truth.count >= 20)
        #expect(abs(messages.count - harness.truth.count) <= 1, "published \(messages.count), truth \(harness.truth.count)")
        #expect(messages.map(\.cellID) == (0..<UInt64(messages.count)).map { $0 })
        #expect(messages.allSatisfy { $0.label == "unclassified" && $0.probabilities.isEmpty && $0.framesSeen >= 1 })
        #expect(messages.allSatisfy { ($0.features["area_um2"] ?? 0) > 0 && $0.seq != nil })
        #expect(harness.pipeline.tally.byClass == ["unclassified": UInt64(messages.count)])
        #expect(harness.counters.snapshot(at: 0)[PipelineHarness.camera]?.frames.received == 60)
    }

    @Test("frames dropped by a full queue do not break tracks: each cell is still published once (±1)")
    func dropsDoNotCountCellsTwice() throws {
        var harness = try PipelineHarness(seed: 5, workers: 2)
        harness.run(frames: 60, dropped: { $0 % 4 == 3 })
        let counted = harness.counters.snapshot(at: 0)[PipelineHarness.camera]?.frames
        #expect(counted?.received == 45 && counted?.dropped == 15)
        #expect(harness.truth.count >= 20)
        #expect(
            abs(harness.messages.count - harness.truth.count) <= 1,
            "published \(harness.messages.count), truth \(harness.truth.count)")
    }

    @Test("with a model, every cell has fused probabilities over the model's classes that sum to 1")
    func classifiedCells() throws {
        var harness = try PipelineHarness(seed: 6, model: try TinyNetwork().model(), reference: true, workers: 2)
        harness.run(frames: 30)
        let messages = harness.messages
        #expect(!messages.isEmpty)
        for message in messages {
            #expect(Set(message.probabilities.keys) == Set(TinyNetwork.classes))
            #expect(abs(message.probabilities.values.reduce(0, +) - 1) < 1e-9)
            let top = message.probabilities.max { $0.value < $1.value }!
            #expect(message.label == (top.value < 0.5 ? "unknown" : top.key))
        }
    }

    @Test("a cell is classified once, when its track is complete, from at most classify.max_views of its whole views")
    func viewsPerCell() throws {
        for maxViews in [1, 3] {
            var harness = try PipelineHarness(seed: 6, model: try TinyNetwork().model(), reference: true, maxViews: maxViews)
            harness.run(frames: 30)
            let cells = UInt64(harness.messages.count)
            let crops = harness.pipeline.classifiedCrops.load(ordering: .relaxed)
            #expect(cells > 0)
            let calls = harness.pipeline.classifyLatency.count
            #expect(calls >= 1 && calls <= cells, "one classifier call for the cells one frame completes")
            if maxViews == 1 {
                #expect(crops == cells, "every counted cell has a whole view, and only one is classified")
            } else {
                #expect(crops > cells && crops <= 3 * cells)
            }
        }
    }

    @Test("frames held for the median reference are processed once it exists; finish() reports the cells still in view")
    func finishFlushes() throws {
        var harness = try PipelineHarness(seed: 7)
        for _ in 0..<40 { harness.pipeline.process(harness.nextFrame(), worker: 0) }
        let beforeFinish = harness.messages.count
        harness.pipeline.finish()
        let afterFinish = harness.messages.count
        #expect(afterFinish > beforeFinish)
        #expect(abs(afterFinish - harness.truth.count) <= 1)
    }

    @Test("frames that give no reference (no fringes) are rejected as no_reference, and the next frames start over")
    func noReference() throws {
        var harness = try PipelineHarness(seed: 10, referenceFrames: 3)
        let blank = [UInt8](repeating: 100, count: 256 * 256).withUnsafeBytes {
            Frame(header: FrameHeader(dtype: .uint8, rows: 256, cols: 256), pixels: PixelBuffer(copying: $0))
        }
        for _ in 0..<3 { harness.pipeline.process(harness.received(blank), worker: 0) }
        for _ in 0..<20 { harness.pipeline.process(harness.nextFrame(), worker: 0) }
        harness.pipeline.finish()
        let counters = try #require(harness.counters.snapshot(at: 0)[PipelineHarness.camera])
        #expect(counters.rejectedByReason == ["no_reference": 3])
        #expect(counters.frames.received == 23)
        #expect(abs(harness.messages.count - harness.truth.count) <= 1)
    }

    @Test("a run shorter than reconstruction.reference_frames is still processed at shutdown")
    func shortRun() throws {
        var harness = try PipelineHarness(seed: 8, reference: false, referenceFrames: 1000)
        for _ in 0..<20 { harness.pipeline.process(harness.nextFrame(), worker: 0) }
        #expect(harness.messages.isEmpty)
        harness.pipeline.finish()
        #expect(!harness.messages.isEmpty)
    }

    @Test("a frame whose size differs from the camera's reference is received but rejected as shape_changed; the rest go on")
    func shapeChange() throws {
        var harness = try PipelineHarness(seed: 9, reference: true)
        for _ in 0..<5 { harness.pipeline.process(harness.nextFrame(), worker: 0) }
        let small = [UInt8](repeating: 9, count: 64 * 64).withUnsafeBytes {
            Frame(header: FrameHeader(dtype: .uint8, rows: 64, cols: 64), pixels: PixelBuffer(copying: $0))
        }
        // The camera sent it in place of a frame: the flow moved on meanwhile.
        _ = harness.twin.nextFrame()
        harness.pipeline.process(harness.received(small), worker: 0)
        for _ in 0..<25 { harness.pipeline.process(harness.nextFrame(), worker: 0) }
        harness.pipeline.finish()
        let counters = try #require(harness.counters.snapshot(at: 0)[PipelineHarness.camera])
        #expect(counters.frames.received == 31)
        #expect(counters.frames.malformed == 0)
        #expect(counters.rejectedByReason == ["shape_changed": 1])
        #expect(abs(harness.messages.count - harness.truth.count) <= 1)
    }
}
