import CInferenceKernels

/// A pointwise nonlinearity, fused into the op before it so that it costs no extra pass over
/// memory: relu(x) = max(x, 0); leaky_relu(x) = x if x ≥ 0 else slope·x (Maas et al. 2013; the
/// DCGAN discriminator uses slope 0.2).
enum Activation: Sendable, Equatable {
    case identity
    case relu
    case leaky(slope: Float)

    /// Adds `bias[j]` to column j of the `rows × columns` matrix at `x` (rows `rowStride` floats
    /// apart), then applies the activation, in place. One pass, while the GEMM's output is
    /// still in cache.
    func applyWithBias(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * rowStride
            switch self {
            case .identity:
                for j in 0..<columns { row[j] += bias[j] }
            case .relu:
                for j in 0..<columns { row[j] = Swift.max(row[j] + bias[j], 0) }
            case .leaky(let slope):
                for j in 0..<columns {
                    let v = row[j] + bias[j]
                    row[j] = v < 0 ? v * slope : v
                }
            }
        }
    }

    /// The activation as CInferenceKernels' code and slope, for the packed kernel's fused store.
    var kernelCode: (Int32, Float) {
        switch self {
        case .identity: (Int32(FLOWD_ACTIVATION_IDENTITY), 0)
        case .relu: (Int32(FLOWD_ACTIVATION_RELU), 0)
        case .leaky(let slope): (Int32(FLOWD_ACTIVATION_LEAKY), slope)
        }
    }

    /// Applies the activation to `count` values in place.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity: return
        case .relu:
            for i in 0..<count { x[i] = Swift.max(x[i], 0) }
        case .leaky(let slope):
            for i in 0..<count { x[i] = x[i] < 0 ? x[i] * slope : x[i] }
        }
    }
}
