import CMallocCounter
import Testing

@testable import Inference
import InferenceTestSupport

/// The arena's promise: after the context is built, inference allocates nothing.
@Suite("Heap allocations", .serialized)
struct AllocationTests {
    @Test("the counter sees an allocation (so a zero below means something)")
    func counterWorks() {
        flowd_malloc_counter_begin()
        let array = [Float](repeating: 1, count: 1000 + Int.random(in: 0..<10))
        let count = flowd_malloc_counter_end()
        #expect(array.count >= 1000)
        #expect(count >= 1)
    }

    @Test("a steady-state inference makes zero heap allocations", arguments: [1, 3])
    func steadyStateAllocatesNothing(batch: Int) throws {
        let context = try InferenceContext(model: TinyNetwork().model(), maxBatch: 3)
        let crops = TinyNetwork.crops(batch)
        var out = [Float](repeating: 0, count: batch * 3)
        try crops.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { p in
                try context.classify(opd: x, batch: batch, probabilities: p)  // warm-up: BLAS buffers, lazy statics
                flowd_malloc_counter_begin()
                for _ in 0..<100 {
                    try context.classify(opd: x, batch: batch, probabilities: p)
                }
                let count = flowd_malloc_counter_end()
                #expect(count == 0, "\(count) allocations in 100 inferences")
            }
        }
    }

    @Test("the DCGAN-sized path (GEMMs shared by the worker team) allocates nothing, helpers included")
    func largeModelAllocatesNothing() throws {
        // ndf 16 trunk on 64×64: four 4×4/2/1 convolutions, batch norm, linear head.
        var b = SafeTensorsBuilder()
        var layers: [[String: Any]] = []
        var c = 1
        var state: UInt64 = 3
        func random(_ n: Int) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(state >> 40) / Float(1 << 24) - 0.5
            }
        }
        for i in 0..<4 {
            let out = 16 << i
            b.add("f.\(i).weight", shape: [out, c, 4, 4], values: random(out * c * 16))
            layers.append(["op": "conv2d", "weight": "f.\(i).weight", "stride": 2, "padding": 1])
            b.add("n.\(i).weight", shape: [out], values: [Float](repeating: 1, count: out))
            b.add("n.\(i).bias", shape: [out], values: random(out))
            b.add("n.\(i).running_mean", shape: [out], values: random(out))
            b.add("n.\(i).running_var", shape: [out], values: [Float](repeating: 1, count: out))
            layers.append(["op": "batchnorm2d", "prefix": "n.\(i)", "eps": 1e-5])
            layers.append(["op": "leaky_relu", "slope": 0.2])
            c = out
        }
        b.add("fc.weight", shape: [2, c * 16], values: random(2 * c * 16))
        layers += [["op": "flatten"], ["op": "linear", "weight": "fc.weight"]]
        b.metadata["topgan"] = TinyNetwork().metadata {
            $0["layers"] = layers
            $0["classes"] = ["a", "b"]
            $0["input"] = ["size": 64, "pixel_um": 0.3, "opd_scale_nm": 400]
        }
        let context = try InferenceContext(model: Model(safetensors: b.bytes()), maxBatch: 8)
        let crops = [Float](repeating: 100, count: 8 * 64 * 64)
        var out = [Float](repeating: 0, count: 16)
        try crops.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { p in
                try context.classify(opd: x, batch: 8, probabilities: p)
                flowd_malloc_counter_begin()
                for _ in 0..<20 { try context.classify(opd: x, batch: 8, probabilities: p) }
                let count = flowd_malloc_counter_end()
                // The caller claims the first tile of every GEMM, so this covers every layer's
                // tile code; what a helper thread adds, the team's loop, is counted exactly in
                // WorkerTeamTests ("a helper allocates nothing between its tiles").
                #expect(count == 0, "\(count) allocations in 20 inferences on the calling thread")
            }
        }
    }

    @Test("a features model (format version 2: crop features, standardisation, linear) allocates nothing")
    func featuresModelAllocatesNothing() throws {
        let f = CropFeatures.count
        var b = SafeTensorsBuilder()
        b.add("features.mean", shape: [f], values: [Float](repeating: 10, count: f))
        b.add("features.scale", shape: [f], values: [Float](repeating: 2, count: f))
        b.add("head.weight", shape: [3, f], values: (0..<(3 * f)).map { Float($0 % 7) / 7 - 0.5 })
        b.add("head.bias", shape: [3], values: [0.1, 0, -0.1])
        b.metadata["topgan"] = TinyNetwork().metadata {
            $0["version"] = 2
            $0["features"] = [
                "extractor": CropFeatures.extractor, "version": CropFeatures.version, "names": CropFeatures.names,
                "mean": "features.mean", "scale": "features.scale",
            ]
            $0["layers"] = [["op": "linear", "weight": "head.weight", "bias": "head.bias"]]
        }
        let context = try InferenceContext(model: Model(safetensors: b.bytes()), maxBatch: 3)
        let crops = TinyNetwork.crops(3)
        var out = [Float](repeating: 0, count: 9)
        try crops.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { p in
                try context.classify(opd: x, batch: 3, probabilities: p)
                flowd_malloc_counter_begin()
                for _ in 0..<100 { try context.classify(opd: x, batch: 3, probabilities: p) }
                let count = flowd_malloc_counter_end()
                #expect(count == 0, "\(count) allocations in 100 inferences")
                #expect(abs(p.reduce(0, +) - 3) < 1e-4)
            }
        }
    }
}
