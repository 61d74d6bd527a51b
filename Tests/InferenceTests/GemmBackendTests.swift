import Testing

@testable import Inference
import InferenceTestSupport

/// The packed AVX-512 kernel computes what OpenBLAS computes, including partial panels (channel
/// counts that are not multiples of 32), column splits across the team, and fused activations.
@Suite("GEMM backends")
struct GemmBackendTests {
    /// conv 3×3/1/1 1→72 + leaky_relu · conv 4×4/2/1 72→40 + relu · flatten · linear 640→3 on 8×8.
    static func bytes() -> [UInt8] {
        var b = SafeTensorsBuilder()
        var state: UInt64 = 5
        func random(_ n: Int, _ scale: Float) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(state >> 40) / Float(1 << 24) - 0.5) * scale
            }
        }
        b.add("a.weight", shape: [72, 1, 3, 3], values: random(72 * 9, 1))
        b.add("a.bias", shape: [72], values: random(72, 0.2))
        b.add("b.weight", shape: [40, 72, 4, 4], values: random(40 * 72 * 16, 0.2))
        b.add("b.bias", shape: [40], values: random(40, 0.2))
        b.add("fc.weight", shape: [3, 640], values: random(3 * 640, 0.3))
        b.metadata["topgan"] = TinyNetwork().metadata {
            $0["layers"] = [
                ["op": "conv2d", "weight": "a.weight", "bias": "a.bias", "stride": 1, "padding": 1],
                ["op": "leaky_relu", "slope": 0.2],
                ["op": "conv2d", "weight": "b.weight", "bias": "b.bias", "stride": 2, "padding": 1],
                ["op": "relu"],
                ["op": "flatten"],
                ["op": "linear", "weight": "fc.weight"],
            ]
        }
        return b.bytes()
    }

    @Test("packed and OpenBLAS convolutions agree", arguments: [1, 2, 3])
    func backendsAgree(batch: Int) throws {
        let packed = try Model(safetensors: Self.bytes(), backend: .packed)
        let blas = try Model(safetensors: Self.bytes(), backend: .openBLAS)
        #expect(blas.backend == .openBLAS)
        #expect(packed.backend == (GemmBackend.packedAvailable ? .packed : .openBLAS))
        let crops = TinyNetwork.crops(batch)
        let p = try InferenceContext(model: packed, maxBatch: batch).classify(opd: crops)
        let q = try InferenceContext(model: blas, maxBatch: batch).classify(opd: crops)
        for (x, y) in zip(p, q) { #expect(abs(x - y) <= 1e-5) }
    }

    @Test("FLOWD_INFERENCE_GEMM=openblas forces OpenBLAS; automatic prefers the packed kernel")
    func resolution() {
        #expect(GemmBackend.resolve(.automatic, environment: ["FLOWD_INFERENCE_GEMM": "openblas"]) == .openBLAS)
        #expect(GemmBackend.resolve(.automatic, environment: [:]) == (GemmBackend.packedAvailable ? .packed : .openBLAS))
        #expect(GemmBackend.resolve(.openBLAS, environment: [:]) == .openBLAS)
    }
}
