import Testing

@testable import Inference
import InferenceTestSupport

@Suite("The inference engine")
struct InferenceContextTests {
    let network = TinyNetwork()

    @Test("matches a direct NCHW implementation of every op, batch by batch", arguments: GemmBackend.allCases)
    func matchesReference(backend: GemmBackend) throws {
        let model = try Model(safetensors: network.builder().bytes(), backend: backend)
        let context = try InferenceContext(model: model, maxBatch: 4)
        let n = 7  // two full batches and a partial one
        let crops = TinyNetwork.crops(n)
        let p = try context.classify(opd: crops)
        #expect(p.count == n * 3)
        let perImage = TinyNetwork.size * TinyNetwork.size
        for i in 0..<n {
            let want = network.reference(crops[(i * perImage)..<((i + 1) * perImage)])
            for j in 0..<3 {
                #expect(abs(p[i * 3 + j] - want[j]) <= 1e-5, "image \(i) class \(j): \(p[i * 3 + j]) vs \(want[j])")
            }
        }
    }

    @Test("folds both batch norms and fuses the activations: 4 compute layers and no standalone ops")
    func foldsAndFuses() throws {
        let model = try network.model()
        #expect(model.layers.count == 5)  // conv, conv, pool, linear, linear
        let standalone = model.layers.filter {
            switch $0 {
            case .channelAffine, .activation: true
            default: false
            }
        }
        #expect(standalone.isEmpty)
        // 2·(8·8·4·9) + 2·(4·4·6·64) + 2·(24·5) + 2·(5·3)
        #expect(model.flopsPerImage == 2 * (8 * 8 * 4 * 9) + 2 * (4 * 4 * 6 * 64) + 2 * 24 * 5 + 2 * 5 * 3)
    }

    @Test("a batch gives the same probabilities as its images one at a time")
    func batchEqualsSingles() throws {
        let model = try network.model()
        let batched = try InferenceContext(model: model, maxBatch: 5).classify(opd: TinyNetwork.crops(5))
        let single = try InferenceContext(model: model, maxBatch: 1).classify(opd: TinyNetwork.crops(5))
        for (a, b) in zip(batched, single) { #expect(abs(a - b) <= 1e-6) }
    }

    @Test("probabilities of each image sum to 1")
    func probabilitiesSumToOne() throws {
        let p = try InferenceContext(model: network.model(), maxBatch: 3).classify(opd: TinyNetwork.crops(3))
        for i in 0..<3 { #expect(abs(p[(3 * i)..<(3 * i + 3)].reduce(0, +) - 1) <= 1e-6) }
    }

    @Test("NaN OPD counts as background (0), not as a NaN probability")
    func nanInput() throws {
        var crops = TinyNetwork.crops(1)
        crops[10] = .nan
        let p = try InferenceContext(model: network.model(), maxBatch: 1).classify(opd: crops)
        #expect(p.allSatisfy { $0.isFinite })
        crops[10] = 0
        let q = try InferenceContext(model: network.model(), maxBatch: 1).classify(opd: crops)
        #expect(p == q)
    }

    @Test("a batch larger than the arena is refused, not overrun")
    func batchTooLarge() throws {
        let context = try InferenceContext(model: network.model(), maxBatch: 2)
        let crops = TinyNetwork.crops(3)
        var out = [Float](repeating: 0, count: 9)
        let error = #expect(throws: ModelError.self) {
            try crops.withUnsafeBufferPointer { x in
                try out.withUnsafeMutableBufferPointer { p in try context.classify(opd: x, batch: 3, probabilities: p) }
            }
        }
        #expect(error?.message.contains("outside 1…2") == true)
    }

    @Test("input and output buffers that are too small are refused")
    func buffersTooSmall() throws {
        let context = try InferenceContext(model: network.model(), maxBatch: 2)
        let crops = TinyNetwork.crops(1)
        var out = [Float](repeating: 0, count: 6)
        #expect(throws: ModelError.self) {
            try crops.withUnsafeBufferPointer { x in
                try out.withUnsafeMutableBufferPointer { p in try context.classify(opd: x, batch: 2, probabilities: p) }
            }
        }
        var small = [Float](repeating: 0, count: 2)
        #expect(throws: ModelError.self) {
            try crops.withUnsafeBufferPointer { x in
                try small.withUnsafeMutableBufferPointer { p in try context.classify(opd: x, batch: 1, probabilities: p) }
            }
        }
        #expect(throws: ModelError.self) { try context.classify(opd: [Float](repeating: 0, count: 65)) }
        #expect(throws: ModelError.self) { try InferenceContext(model: network.model(), maxBatch: 0) }
    }

    @Test("F16 and BF16 weights load as the same network, to their precision")
    func halfPrecisionWeights() throws {
        let reference = try InferenceContext(model: network.model(), maxBatch: 2).classify(opd: TinyNetwork.crops(2))
        for dtype in ["F16", "BF16"] {
            var b = network.builder()
            for (name, t) in b.tensors {
                let values = t.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                let halves: [UInt16] = values.map {
                    dtype == "F16" ? Float16($0).bitPattern : UInt16($0.bitPattern >> 16)
                }
                b.replace(name, with: .init(dtype: dtype, shape: t.shape, bytes: halves.withUnsafeBytes { [UInt8]($0) }))
            }
            let p = try InferenceContext(model: Model(safetensors: b.bytes()), maxBatch: 2).classify(opd: TinyNetwork.crops(2))
            for (a, r) in zip(p, reference) { #expect(abs(a - r) <= (dtype == "F16" ? 0.01 : 0.05), "\(dtype)") }
        }
    }
}

@Suite("Arena limits")
struct ArenaLimitTests {
    /// conv 3×3/1/1 1→8 · global average pool · flatten · linear 8→2, on 1024×1024 crops.
    static func largeInputModel() throws -> Model {
        var b = SafeTensorsBuilder()
        b.add("c.weight", shape: [8, 1, 3, 3], values: [Float](repeating: 0.1, count: 72))
        b.add("fc.weight", shape: [2, 8], values: [Float](repeating: 0.1, count: 16))
        b.metadata["topgan"] = TinyNetwork().metadata {
            $0["classes"] = ["a", "b"]
            $0["input"] = ["size": 1024, "pixel_um": 0.1, "opd_scale_nm": 300]
            $0["layers"] = [
                ["op": "conv2d", "weight": "c.weight", "stride": 1, "padding": 1],
                ["op": "avgpool2d", "global": true], ["op": "flatten"], ["op": "linear", "weight": "fc.weight"],
            ]
        }
        return try Model(safetensors: b.bytes())
    }

    @Test("an arena beyond 4 GiB is refused with the size it would take")
    func hugeArena() throws {
        let model = try Self.largeInputModel()
        // 2 × 2048 × 1024² × 8 floats = 128 GiB of activations.
        let error = #expect(throws: ModelError.self) { try InferenceContext(model: model, maxBatch: 2048) }
        #expect(error?.message.hasSuffix("MiB (limit 4096 MiB); use a smaller maxBatch") == true)
        #expect(try InferenceContext(model: model, maxBatch: 2).arenaBytes < 4 << 30)
    }

    @Test("the arena is two activation buffers and the im2col scratch")
    func arenaSize() throws {
        let context = try InferenceContext(model: TinyNetwork().model(), maxBatch: 4)
        // ping + pong of 4 × 8·8·4 floats; the widest im2col is the second convolution's:
        // 4 images × 4·4 output pixels × (4×4 taps × 4 channels).
        #expect(context.arenaBytes == (2 * 4 * 256 + 4 * 16 * 64) * 4)
    }
}
