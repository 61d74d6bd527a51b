import Foundation

import Inference

/// A small classifier that exercises every op of the model format, with seeded random weights,
/// and a direct NCHW reference implementation of it written from PyTorch's definitions (no
/// im2col, no folding, no NHWC) to check the engine against.
///
/// conv 3×3/1/1 (1→4, bias) · batchnorm · leaky_relu 0.2 · conv 4×4/2/1 (4→6, no bias) ·
/// batchnorm · relu · dropout · avgpool 2/2 · flatten · linear (6·2·2→5) · leaky_relu 0.1 ·
/// linear (5→3). Input 8×8.
public struct TinyNetwork {
    public static let size = 8
    public static let scale: Float = 300
    public static let classes = ["healthy", "primary", "metastatic"]

    public var tensors: [String: (shape: [Int], values: [Float])] = [:]

    public init(seed: UInt64 = 7) {
        var state = seed
        func uniform(_ lo: Float, _ hi: Float) -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
        }
        func add(_ name: String, _ shape: [Int], _ lo: Float, _ hi: Float) {
            tensors[name] = (shape, (0..<shape.reduce(1, *)).map { _ in uniform(lo, hi) })
        }
        add("c1.weight", [4, 1, 3, 3], -0.6, 0.6)
        add("c1.bias", [4], -0.1, 0.1)
        add("n1.weight", [4], 0.5, 1.5)
        add("n1.bias", [4], -0.2, 0.2)
        add("n1.running_mean", [4], -0.3, 0.3)
        add("n1.running_var", [4], 0.5, 2)
        add("c2.weight", [6, 4, 4, 4], -0.3, 0.3)
        add("n2.weight", [6], 0.5, 1.5)
        add("n2.bias", [6], -0.2, 0.2)
        add("n2.running_mean", [6], -0.3, 0.3)
        add("n2.running_var", [6], 0.5, 2)
        add("fc1.weight", [5, 24], -0.5, 0.5)
        add("fc1.bias", [5], -0.1, 0.1)
        add("fc2.weight", [3, 5], -1.5, 1.5)
        add("fc2.bias", [3], -0.1, 0.1)
    }

    public var layersJSON: [[String: Any]] {
        [
            ["op": "conv2d", "weight": "c1.weight", "bias": "c1.bias", "stride": 1, "padding": 1],
            ["op": "batchnorm2d", "prefix": "n1", "eps": 1e-5],
            ["op": "leaky_relu", "slope": 0.2],
            ["op": "conv2d", "weight": "c2.weight", "stride": 2, "padding": 1],
            ["op": "batchnorm2d", "prefix": "n2", "eps": 1e-5],
            ["op": "relu"],
            ["op": "dropout"],
            ["op": "avgpool2d", "kernel": 2, "stride": 2],
            ["op": "flatten"],
            ["op": "linear", "weight": "fc1.weight", "bias": "fc1.bias"],
            ["op": "leaky_relu", "slope": 0.1],
            ["op": "linear", "weight": "fc2.weight", "bias": "fc2.bias"],
        ]
    }

    /// The `__metadata__["topgan"]` object, with `edit` applied first.
    public func metadata(_ edit: (inout [String: Any]) -> Void = { _ in }) -> String {
        var object: [String: Any] = [
            "format": "topgan-classifier", "version": 1, "classes": Self.classes,
            "input": ["size": Self.size, "pixel_um": 0.25, "opd_scale_nm": Double(Self.scale)],
            "layers": layersJSON,
        ]
        edit(&object)
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A valid model file builder; tests break it in one place each.
    public func builder() -> SafeTensorsBuilder {
        var b = SafeTensorsBuilder()
        for name in tensors.keys.sorted() { b.add(name, shape: tensors[name]!.shape, values: tensors[name]!.values) }
        b.metadata["topgan"] = metadata()
        return b
    }

    public func model() throws -> Model { try Model(safetensors: builder().bytes()) }

    /// Seeded OPD crops in nm, overshooting the clamp range.
    public static func crops(_ n: Int, seed: UInt64 = 11) -> [Float] {
        var state = seed
        return (0..<(n * size * size)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 3 - 1.5) * scale
        }
    }

    // MARK: Reference forward pass (NCHW, straight from the definitions)

    private func t(_ name: String) -> [Float] { tensors[name]!.values }

    private func conv(_ x: [Float], c: Int, h: Int, w: Int, weight: String, bias: String?, stride: Int, pad: Int) -> ([Float], Int, Int, Int) {
        let shape = tensors[weight]!.shape
        let (co, kh, kw) = (shape[0], shape[2], shape[3])
        let (oh, ow) = ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1)
        let wt = t(weight)
        let b = bias.map(t) ?? [Float](repeating: 0, count: co)
        var y = [Float](repeating: 0, count: co * oh * ow)
        for o in 0..<co {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum = Double(b[o])
                    for ci in 0..<c {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let iy = oy * stride - pad + ky
                                let ix = ox * stride - pad + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                sum += Double(wt[((o * c + ci) * kh + ky) * kw + kx]) * Double(x[(ci * h + iy) * w + ix])
                            }
                        }
                    }
                    y[(o * oh + oy) * ow + ox] = Float(sum)
                }
            }
        }
        return (y, co, oh, ow)
    }

    private func norm(_ x: inout [Float], c: Int, prefix: String) {
        let (g, b, m, v) = (t(prefix + ".weight"), t(prefix + ".bias"), t(prefix + ".running_mean"), t(prefix + ".running_var"))
        let plane = x.count / c
        for ch in 0..<c {
            for i in 0..<plane {
                x[ch * plane + i] = (x[ch * plane + i] - m[ch]) / (v[ch] + 1e-5).squareRoot() * g[ch] + b[ch]
            }
        }
    }

    private func linear(_ x: [Float], weight: String, bias: String) -> [Float] {
        let shape = tensors[weight]!.shape
        let (wt, b) = (t(weight), t(bias))
        return (0..<shape[0]).map { o in
            Float((0..<shape[1]).reduce(Double(b[o])) { $0 + Double(wt[o * shape[1] + $1]) * Double(x[$1]) })
        }
    }

    /// Softmax probabilities for one 8×8 crop, computed the way PyTorch defines each op.
    public func reference(_ opd: ArraySlice<Float>) -> [Float] {
        var x = opd.map { Swift.min(Swift.max($0 / Self.scale, -1), 1) }
        var (c, h, w) = (1, Self.size, Self.size)
        (x, c, h, w) = conv(x, c: c, h: h, w: w, weight: "c1.weight", bias: "c1.bias", stride: 1, pad: 1)
        norm(&x, c: c, prefix: "n1")
        x = x.map { $0 < 0 ? 0.2 * $0 : $0 }
        (x, c, h, w) = conv(x, c: c, h: h, w: w, weight: "c2.weight", bias: nil, stride: 2, pad: 1)
        norm(&x, c: c, prefix: "n2")
        x = x.map { Swift.max($0, 0) }
        var pooled = [Float](repeating: 0, count: c * (h / 2) * (w / 2))
        for ch in 0..<c {
            for y in 0..<(h / 2) {
                for xx in 0..<(w / 2) {
                    var s: Float = 0
                    for dy in 0..<2 { for dx in 0..<2 { s += x[(ch * h + 2 * y + dy) * w + 2 * xx + dx] } }
                    pooled[(ch * (h / 2) + y) * (w / 2) + xx] = s / 4
                }
            }
        }
        var z = linear(pooled, weight: "fc1.weight", bias: "fc1.bias").map { $0 < 0 ? 0.1 * $0 : $0 }
        z = linear(z, weight: "fc2.weight", bias: "fc2.bias")
        let top = z.max()!
        let e = z.map { Float(exp(Double($0 - top))) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}
