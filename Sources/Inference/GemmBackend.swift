import CInferenceKernels

/// Which GEMM runs the convolutions.
///
/// - `packed`: CInferenceKernels' AVX-512 kernel on weights packed once, at load. It saves the
///   weight re-packing that OpenBLAS does on every call (a quarter of the batch-1 time of the
///   DCGAN discriminator) and fuses bias and activation into its stores. Single-threaded on the
///   DCGAN's GEMM shapes here it runs at 87–134 GFLOPS where OpenBLAS's Cooperlake kernels run
///   at 48–118 (16×256×4096: 87 vs 48; 2048×128×1024: 125 vs 96).
/// - `openBLAS`: cblas_sgemm, then a bias-and-activation pass; runs on any x86-64.
///
/// `automatic` is `packed` where the CPU has AVX-512F, else `openBLAS`. The environment variable
/// FLOWD_INFERENCE_GEMM=openblas forces OpenBLAS (for comparisons), read when a model loads.
/// Fully connected layers always use OpenBLAS: they are a few kFLOP per image.
public enum GemmBackend: String, Sendable, CaseIterable {
    case automatic
    case packed
    case openBLAS = "openblas"

    /// Whether this CPU can run the packed kernel.
    public static var packedAvailable: Bool { flowd_gemm_packed_available() != 0 }

    /// The backend `automatic` stands for, given the environment and the CPU.
    public static func resolve(_ requested: GemmBackend, environment: [String: String]) -> GemmBackend {
        switch requested {
        case .openBLAS: return .openBLAS
        case .packed: return packedAvailable ? .packed : .openBLAS
        case .automatic:
            if environment["FLOWD_INFERENCE_GEMM"]?.lowercased() == "openblas" { return .openBLAS }
            return packedAvailable ? .packed : .openBLAS
        }
    }

    /// Packs a row-major k × n weight matrix for the packed kernel.
    static func pack(_ weights: [Float], k: Int, n: Int) -> [Float] {
        var packed = [Float](repeating: 0, count: Int(flowd_gemm_packed_size(Int32(k), Int32(n))))
        weights.withUnsafeBufferPointer { w in
            packed.withUnsafeMutableBufferPointer { p in flowd_gemm_pack(w.baseAddress, Int32(k), Int32(n), p.baseAddress) }
        }
        return packed
    }
}
