import CMallocCounter
import Foundation
import Inference
import InferenceTestSupport
import Testing

@testable import FlowDaemon

@Suite("Swapping the model of a running pipeline", .serialized)
struct ModelSwapTests {
    @Test("a swap while frames stream: every frame processed, every cell published once with the classes' probabilities")
    func swapUnderLoad() throws {
        var harness = try PipelineHarness(seed: 6, model: try TinyNetwork().model(), reference: true, workers: 2)
        let pipeline = harness.pipeline
        let replacements = try (8..<11).map { try TinyNetwork(seed: UInt64($0)).model() }
        let last = replacements.last!
        harness.run(frames: 40) {
            for model in replacements { try? pipeline.swapModel(model) }
        }
        #expect(pipeline.classifier.current?.model === last)
        let counters = try #require(harness.counters.snapshot(at: 0)[PipelineHarness.camera])
        #expect(counters.frames.received == 40 && counters.rejectedByReason.isEmpty)
        let messages = harness.messages
        #expect(abs(messages.count - harness.truth.count) <= 1, "published \(messages.count), truth \(harness.truth.count)")
        #expect(messages.map(\.cellID) == (0..<UInt64(messages.count)).map { $0 })
        for message in messages {
            #expect(Set(message.probabilities.keys) == Set(TinyNetwork.classes))
            #expect(abs(message.probabilities.values.reduce(0, +) - 1) < 1e-9)
        }
    }

    @Test("a model with other classes or another crop geometry is refused, and the running one keeps serving")
    func incompatibleModels() throws {
        let harness = try PipelineHarness(seed: 6, model: try TinyNetwork().model(), reference: true)
        let running = try #require(harness.pipeline.classifier.current)
        let network = TinyNetwork(seed: 9)
        var otherClasses = network.builder()
        otherClasses.metadata["topgan"] = network.metadata { $0["classes"] = ["healthy", "metastatic", "primary"] }
        var otherPitch = network.builder()
        otherPitch.metadata["topgan"] = network.metadata {
            $0["input"] = ["size": TinyNetwork.size, "pixel_um": 0.5, "opd_scale_nm": Double(TinyNetwork.scale)]
        }
        for (builder, problem) in [(otherClasses, "classes"), (otherPitch, "crop geometry")] {
            let error = #expect(throws: ModelError.self) { try harness.pipeline.swapModel(try Model(safetensors: builder.bytes())) }
            #expect(error?.message.contains(problem) == true, "\(String(describing: error))")
            #expect(harness.pipeline.classifier.current === running)
        }
    }

    @Test("a pipeline started without a model refuses one: what it records would change")
    func noModelAtStart() throws {
        let harness = try PipelineHarness(seed: 6)
        let error = #expect(throws: ModelError.self) { try harness.pipeline.swapModel(try TinyNetwork().model()) }
        #expect(error?.message.contains("without a model") == true)
        #expect(harness.pipeline.classifier.current == nil)
    }

    @Test("after a swap, a worker's classification allocates nothing: the new arenas exist before the swap")
    func noAllocationAfterSwap() throws {
        let harness = try PipelineHarness(seed: 6, model: try TinyNetwork().model(), reference: true, workers: 2)
        let crops = TinyNetwork.crops(3)
        var out = [Float](repeating: 0, count: 3 * TinyNetwork.classes.count)
        try crops.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { p in
                // Warm-up on the old model: process-wide lazy state (BLAS buffers, statics), not the new arenas.
                try harness.pipeline.classifier.current?.context(worker: 1).classify(opd: x, batch: 3, probabilities: p)
                try harness.pipeline.swapModel(try TinyNetwork(seed: 8).model())
                flowd_malloc_counter_begin()
                for _ in 0..<20 {
                    // What a worker does per frame: take the classifier in service, run its context.
                    guard let classifier = harness.pipeline.classifier.current else { break }
                    try classifier.context(worker: 1).classify(opd: x, batch: 3, probabilities: p)
                }
                let count = flowd_malloc_counter_end()
                #expect(count == 0, "\(count) allocations in 20 classifications")
            }
        }
    }
}
