/// Turns a ``ModelSpec`` and its tensors into ``Layer``s, checking every shape on the way.
///
/// Folding (Ioffe & Szegedy 2015, eq. for inference): a batch norm after a convolution computes
/// γ·(conv(x) + b − μ)/√(σ² + ε) + β, which is the convolution with weights W·s and bias
/// (b − μ)·s + β, s = γ/√(σ² + ε), per output channel. An activation right after a convolution,
/// linear layer or standalone batch norm is fused into it. Dropout is the identity at inference.
struct ModelCompiler {
    /// The activation tensor between ops, per image.
    enum Shape: CustomStringConvertible {
        case spatial(h: Int, w: Int, c: Int)
        /// Flat features; `from` is the NHWC map they were flattened from (PyTorch flattens in
        /// CHW order, so the next linear layer's columns get permuted to match).
        case flat(count: Int, from: (h: Int, w: Int, c: Int)?)

        var description: String {
            switch self {
            case .spatial(let h, let w, let c): "[\(c), \(h), \(w)]"
            case .flat(let n, _): "[\(n)]"
            }
        }
    }

    /// Largest activation between two layers, values per image (256 MiB of Float): far above
    /// any cell classifier (the default model's largest is 65 536), far below what a worker's
    /// arena of 32 images can afford.
    static let maxActivationElements = 1 << 26

    let spec: ModelSpec
    let tensors: SafeTensors
    /// `packed` or `openBLAS` (already resolved).
    let backend: GemmBackend

    func compile() throws(ModelError) -> [Layer] {
        var layers: [Layer] = []
        var shape = spec.features == nil
            ? Shape.spatial(h: spec.inputSize, w: spec.inputSize, c: 1) : Shape.flat(count: CropFeatures.count, from: nil)
        var i = 0
        let ops = spec.layers
        /// Index of the next op that is not dropout.
        func next(after j: Int) -> Int {
            var n = j + 1
            while n < ops.count, ops[n] == .dropout { n += 1 }
            return n
        }
        /// If the op at `j` is an activation, returns it and moves past it.
        func fusedActivation(at j: inout Int) -> Activation {
            let n = next(after: j)
            guard n < ops.count else { return .identity }
            switch ops[n] {
            case .relu: j = n; return .relu
            case .leakyReLU(let slope): j = n; return .leaky(slope: slope)
            default: return .identity
            }
        }
        while i < ops.count {
            let at = "layers[\(i)]"
            switch ops[i] {
            case .conv2d(let weightName, let biasName, let stride, let padding):
                guard case .spatial(let h, let w, let c) = shape else {
                    throw ModelError("\(at) (conv2d): needs a [C, H, W] input, but the previous ops produce \(shape)")
                }
                guard let entry = tensors.entries[weightName] else {
                    throw ModelError("\(at) (conv2d): tensor '\(weightName)' is missing from the file")
                }
                guard entry.shape.count == 4, entry.shape[1] == c, entry.shape[0] >= 1 else {
                    throw ModelError(
                        "\(at) (conv2d): tensor '\(weightName)' has shape \(entry.shape), expected [out_channels, \(c), kh, kw] "
                            + "for an input of \(shape)")
                }
                let (co, kh, kw) = (entry.shape[0], entry.shape[2], entry.shape[3])
                let oh = (h + 2 * padding - kh) / stride + 1
                let ow = (w + 2 * padding - kw) / stride + 1
                guard h + 2 * padding >= kh, w + 2 * padding >= kw, oh >= 1, ow >= 1 else {
                    throw ModelError("\(at) (conv2d): a \(kh)×\(kw) kernel with padding \(padding) does not fit the \(shape) input")
                }
                // Padding is the one way a layer grows its input; bound what it makes.
                guard let outputs = checkedProduct([oh, ow, co]), outputs <= Self.maxActivationElements else {
                    throw ModelError(
                        "\(at) (conv2d): its output [\(co), \(oh), \(ow)] is over \(Self.maxActivationElements) values per image "
                            + "(padding \(padding)); not a cell classifier")
                }
                let pt = try tensors.floats(weightName, usedBy: "\(at) (conv2d)")
                var bias = try biasName.map { name throws(ModelError) in try tensors.floats(name, shape: [co], usedBy: "\(at) (conv2d)") }
                    ?? [Float](repeating: 0, count: co)
                var scale = [Float](repeating: 1, count: co)
                let n = next(after: i)
                if n < ops.count, case .batchnorm2d(let prefix, let eps) = ops[n] {
                    (scale, bias) = try foldedNorm(prefix: prefix, eps: eps, channels: co, bias: bias, at: "layers[\(n)] (batchnorm2d)")
                    i = n
                }
                // PyTorch [co, ci, kh, kw] → [(kh, kw, ci), co], scaled per output channel.
                let k = kh * kw * c
                var weights = [Float](repeating: 0, count: k * co)
                for o in 0..<co {
                    for ci in 0..<c {
                        for y in 0..<kh {
                            for x in 0..<kw {
                                weights[((y * kw + x) * c + ci) * co + o] = pt[((o * c + ci) * kh + y) * kw + x] * scale[o]
                            }
                        }
                    }
                }
                let activation = fusedActivation(at: &i)
                layers.append(.convolution(Convolution(
                    inH: h, inW: w, inC: c, outH: oh, outW: ow, outC: co, kernelH: kh, kernelW: kw,
                    stride: stride, padding: padding, weights: weights,
                    packedWeights: backend == .packed ? GemmBackend.pack(weights, k: k, n: co) : [],
                    bias: bias, activation: activation)))
                shape = .spatial(h: oh, w: ow, c: co)
            case .batchnorm2d(let prefix, let eps):
                guard case .spatial(let h, let w, let c) = shape else {
                    throw ModelError("\(at) (batchnorm2d): needs a [C, H, W] input, but the previous ops produce \(shape)")
                }
                let (scale, shift) = try foldedNorm(
                    prefix: prefix, eps: eps, channels: c, bias: [Float](repeating: 0, count: c), at: "\(at) (batchnorm2d)")
                let activation = fusedActivation(at: &i)
                layers.append(.channelAffine(ChannelAffine(count: h * w * c, scale: scale, shift: shift, activation: activation)))
            case .relu:
                layers.append(.activation(.relu, count: Self.count(shape)))
            case .leakyReLU(let slope):
                layers.append(.activation(.leaky(slope: slope), count: Self.count(shape)))
            case .dropout:
                break
            case .avgpool2d(let kernel, let stride):
                guard case .spatial(let h, let w, let c) = shape, kernel <= h, kernel <= w else {
                    throw ModelError("\(at) (avgpool2d): a \(kernel)×\(kernel) window needs a [C, H, W] input of at least that size; got \(shape)")
                }
                let pool = AveragePool(inH: h, inW: w, channels: c, kernelH: kernel, kernelW: kernel, stride: stride)
                layers.append(.averagePool(pool))
                shape = .spatial(h: pool.outH, w: pool.outW, c: c)
            case .globalAvgPool:
                guard case .spatial(let h, let w, let c) = shape else {
                    throw ModelError("\(at) (avgpool2d global): needs a [C, H, W] input; got \(shape)")
                }
                layers.append(.averagePool(AveragePool(inH: h, inW: w, channels: c, kernelH: h, kernelW: w, stride: 1)))
                shape = .spatial(h: 1, w: 1, c: c)
            case .flatten:
                if case .spatial(let h, let w, let c) = shape {
                    shape = .flat(count: h * w * c, from: (h, w, c))
                }
            case .linear(let weightName, let biasName):
                guard case .flat(let features, let from) = shape else {
                    throw ModelError("\(at) (linear): needs flat features; add a flatten op before it (input is \(shape))")
                }
                guard let entry = tensors.entries[weightName] else {
                    throw ModelError("\(at) (linear): tensor '\(weightName)' is missing from the file")
                }
                guard entry.shape.count == 2, entry.shape[1] == features, entry.shape[0] >= 1 else {
                    throw ModelError("\(at) (linear): tensor '\(weightName)' has shape \(entry.shape), expected [out_features, \(features)]")
                }
                let out = entry.shape[0]
                let pt = try tensors.floats(weightName, usedBy: "\(at) (linear)")
                let bias = try biasName.map { name throws(ModelError) in try tensors.floats(name, shape: [out], usedBy: "\(at) (linear)") }
                    ?? [Float](repeating: 0, count: out)
                // PyTorch [out, f] with f in CHW order → [f', out] with f' in our HWC order.
                var weights = [Float](repeating: 0, count: features * out)
                let (h, w, c) = from ?? (1, 1, features)
                for o in 0..<out {
                    for ch in 0..<c {
                        for p in 0..<(h * w) {
                            weights[(p * c + ch) * out + o] = pt[o * features + ch * h * w + p]
                        }
                    }
                }
                let activation = fusedActivation(at: &i)
                layers.append(.fullyConnected(FullyConnected(
                    inFeatures: features, outFeatures: out, weights: weights, bias: bias, activation: activation)))
                shape = .flat(count: out, from: nil)
            }
            i += 1
        }
        guard case .flat(let outputs, _) = shape, outputs == spec.classes.count,
            layers.contains(where: { if case .fullyConnected = $0 { true } else { false } })
        else {
            throw ModelError(
                "the layers end with output \(shape), but the model has \(spec.classes.count) classes; "
                    + "the network must end in a linear layer (after flatten) with one output per class")
        }
        return layers
    }

    /// A features model's input stage (nil for a model that reads the crop): the standardisation's
    /// tensors, one value per feature, every scale positive.
    func featureInput() throws(ModelError) -> FeatureInput? {
        guard let features = spec.features else { return nil }
        let count = CropFeatures.count
        let mean = try tensors.floats(features.mean, shape: [count], usedBy: "features.mean")
        let scale = try tensors.floats(features.scale, shape: [count], usedBy: "features.scale")
        if let bad = scale.firstIndex(where: { !($0 > 0) }) {
            throw ModelError("features.scale: tensor '\(features.scale)' element \(bad) is \(scale[bad]); every scale must be positive")
        }
        return FeatureInput(
            extractor: CropFeatures(size: spec.inputSize, pixelMicrometres: spec.pixelMicrometres),
            mean: mean.map(Double.init), scale: scale.map(Double.init))
    }

    /// Per-channel scale s = γ/√(σ² + ε) and shift (b − μ)·s + β of a batch norm.
    private func foldedNorm(prefix: String, eps: Float, channels: Int, bias: [Float], at: String) throws(ModelError)
        -> ([Float], [Float])
    {
        let gamma = try tensors.floats(prefix + ".weight", shape: [channels], usedBy: at)
        let beta = try tensors.floats(prefix + ".bias", shape: [channels], usedBy: at)
        let mean = try tensors.floats(prefix + ".running_mean", shape: [channels], usedBy: at)
        let variance = try tensors.floats(prefix + ".running_var", shape: [channels], usedBy: at)
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            guard variance[c] >= 0 else {
                throw ModelError("\(at): tensor '\(prefix).running_var' element \(c) is negative (\(variance[c]))")
            }
            // In Double: the folded weights then match PyTorch's unfolded arithmetic to ~1 ulp.
            let s = Double(gamma[c]) / (Double(variance[c]) + Double(eps)).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float((Double(bias[c]) - Double(mean[c])) * s + Double(beta[c]))
        }
        return (scale, shift)
    }

    private static func count(_ shape: Shape) -> Int {
        switch shape {
        case .spatial(let h, let w, let c): h * w * c
        case .flat(let n, _): n
        }
    }
}
