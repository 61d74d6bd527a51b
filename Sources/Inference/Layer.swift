/// One compiled op of a model: shapes fixed, batch norm folded, activation fused.
///
/// Activations are NHWC (channels innermost): im2col then copies runs of `kw × Cin` contiguous
/// floats, a convolution's GEMM writes its output directly in NHWC, and a batch is just more
/// rows of the same matrices. Sizes below are per image.
enum Layer: Sendable {
    case convolution(Convolution)
    case fullyConnected(FullyConnected)
    case averagePool(AveragePool)
    case channelAffine(ChannelAffine)
    case activation(Activation, count: Int)

    /// Floats per image this layer reads.
    var inputCount: Int {
        switch self {
        case .convolution(let c): c.inH * c.inW * c.inC
        case .fullyConnected(let f): f.inFeatures
        case .averagePool(let p): p.inH * p.inW * p.channels
        case .channelAffine(let a): a.count
        case .activation(_, let count): count
        }
    }

    /// Floats per image this layer writes.
    var outputCount: Int {
        switch self {
        case .convolution(let c): c.outH * c.outW * c.outC
        case .fullyConnected(let f): f.outFeatures
        case .averagePool(let p): p.outH * p.outW * p.channels
        case .channelAffine(let a): a.count
        case .activation(_, let count): count
        }
    }

    /// Multiply-adds × 2 per image: what a GFLOPS figure counts.
    var flops: Int {
        switch self {
        case .convolution(let c): 2 * c.outH * c.outW * c.outC * c.k
        case .fullyConnected(let f): 2 * f.inFeatures * f.outFeatures
        default: 0
        }
    }

    /// Whether the layer rewrites its input buffer instead of writing a new one.
    var isInPlace: Bool {
        switch self {
        case .channelAffine, .activation: true
        default: false
        }
    }
}

/// A 2-D convolution, out[p, co] = Σ_k col[p, k] · W[k, co] + b[co], with col the im2col matrix
/// (one row per output pixel p, k running over (kh, kw, ci)).
struct Convolution: Sendable {
    var inH, inW, inC: Int
    var outH, outW, outC: Int
    var kernelH, kernelW, stride, padding: Int
    /// [k, outC] row-major, rows in (kh, kw, ci) order: PyTorch's [outC, inC, kh, kw] permuted,
    /// with any following batch norm folded in.
    var weights: [Float]
    /// `weights` packed for the AVX-512 kernel (CInferenceKernels), or empty when the model uses
    /// OpenBLAS for its convolutions.
    var packedWeights: [Float]
    var bias: [Float]
    var activation: Activation

    /// GEMM inner dimension: kh · kw · inC.
    var k: Int { kernelH * kernelW * inC }

    /// A 1×1, stride-1, unpadded convolution reads its NHWC input as the col matrix directly.
    var needsIm2Col: Bool { !(kernelH == 1 && kernelW == 1 && stride == 1 && padding == 0) }
}

/// y[o] = Σ_f x[f] · W[f, o] + b[o].
struct FullyConnected: Sendable {
    var inFeatures, outFeatures: Int
    /// [inFeatures, outFeatures] row-major, rows in the NHWC order of the input.
    var weights: [Float]
    var bias: [Float]
    var activation: Activation
}

/// Average over `kernel × kernel` windows at `stride` (no padding), per channel.
struct AveragePool: Sendable {
    var inH, inW, channels: Int
    var kernelH, kernelW, stride: Int
    var outH: Int { (inH - kernelH) / stride + 1 }
    var outW: Int { (inW - kernelW) / stride + 1 }
}

/// x[…, c] ← x[…, c] · scale[c] + shift[c]: a batch norm that has no convolution to fold into.
struct ChannelAffine: Sendable {
    var count: Int
    var scale: [Float]
    var shift: [Float]
    var activation: Activation
}
