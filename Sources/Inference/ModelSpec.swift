import Foundation
import Protocol

/// The `__metadata__["topgan"]` object of a model file, as written by `topgan export`
/// (docs/model-format.md): what the network computes, before any tensor is read.
struct ModelSpec: Equatable {
    /// One op of `layers`, in PyTorch's vocabulary.
    enum Op: Equatable {
        case conv2d(weight: String, bias: String?, stride: Int, padding: Int)
        case batchnorm2d(prefix: String, eps: Float)
        case leakyReLU(slope: Float)
        case relu
        case dropout
        case avgpool2d(kernel: Int, stride: Int)
        case globalAvgPool
        case flatten
        case linear(weight: String, bias: String?)
    }

    /// A version-2 file's `features` (its extractor checked to be ``CropFeatures``): the names of
    /// the tensors that standardise the features.
    struct Features: Equatable {
        var mean: String
        var scale: String
    }

    static let format = "topgan-classifier"
    /// Largest crop side accepted, pixels (cells at 0.1 µm/pixel are < 100 µm).
    static let maxInputSize = 1024
    /// The format versions this flowd reads: 1 (the layers read the crop) and 2 (optionally,
    /// `features`: the layers read the crop's standardised ``CropFeatures``).
    static let versions: ClosedRange<Int64> = 1...2

    var classes: [String]
    var inputSize: Int
    var pixelMicrometres: Double
    /// The network input is clamp(opd_nm / opdScaleNanometres, −1, 1).
    var opdScaleNanometres: Double
    /// Version 2 with `features`: the layers read standardised crop features, not the crop.
    var features: Features?
    var layers: [Op]

    init(json text: String) throws(ModelError) {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw ModelError("__metadata__[\"topgan\"] is not valid JSON")
        }
        guard case .object(let o) = root else { throw ModelError("__metadata__[\"topgan\"] is not a JSON object") }
        guard case .string(let format)? = o["format"], format == Self.format else {
            throw ModelError("metadata format is \(o["format"]?.description ?? "missing"), expected \"\(Self.format)\"")
        }
        guard case .integer(let version)? = o["version"], Self.versions.contains(version) else {
            throw ModelError(
                "metadata version is \(o["version"]?.description ?? "missing"); this flowd reads versions "
                    + "\(Self.versions.lowerBound)–\(Self.versions.upperBound)")
        }
        guard case .array(let classValues)? = o["classes"], !classValues.isEmpty else {
            throw ModelError("metadata classes must be a non-empty array of names")
        }
        classes = []
        for c in classValues {
            guard case .string(let name) = c else { throw ModelError("metadata classes: \(c) is not a string") }
            classes.append(name)
        }
        guard Set(classes).count == classes.count else { throw ModelError("metadata classes \(classes) has duplicates") }
        guard case .object(let input)? = o["input"] else { throw ModelError("metadata input is missing or not an object") }
        inputSize = try Self.int(input["size"], "input.size", min: 1)
        guard inputSize <= Self.maxInputSize else {
            throw ModelError("input.size \(inputSize) is above \(Self.maxInputSize) pixels; a cell crop is far smaller")
        }
        pixelMicrometres = try Self.positive(input["pixel_um"], "input.pixel_um")
        opdScaleNanometres = try Self.positive(input["opd_scale_nm"], "input.opd_scale_nm")
        switch o["features"] {
        case nil: features = nil
        case _ where version < 2:
            throw ModelError("metadata features needs format version 2; this file says version \(version)")
        case .object(let f)?:
            features = try Self.features(f, inputSize: inputSize)
        case let other?:
            throw ModelError("metadata features must be an object; got \(other)")
        }
        guard case .array(let layerValues)? = o["layers"], !layerValues.isEmpty else {
            throw ModelError("metadata layers must be a non-empty array of ops")
        }
        layers = []
        for (i, value) in layerValues.enumerated() {
            layers.append(try Self.op(value, index: i))
        }
    }

    /// Checks that `features` names the extractor this flowd computes (``CropFeatures``: name,
    /// version and feature names in order), and reads the standardisation's tensor names.
    private static func features(_ f: [String: JSONValue], inputSize: Int) throws(ModelError) -> Features {
        guard case .string(let extractor)? = f["extractor"], case .integer(let version)? = f["version"] else {
            throw ModelError("features.extractor must be a name and features.version an integer")
        }
        guard extractor == CropFeatures.extractor, version == CropFeatures.version else {
            throw ModelError(
                "features: extractor \"\(extractor)\" version \(version) is unknown; this flowd computes "
                    + "\"\(CropFeatures.extractor)\" version \(CropFeatures.version)")
        }
        guard case .array(let names)? = f["names"], names == CropFeatures.names.map({ JSONValue.string($0) }) else {
            throw ModelError(
                "features.names must list \(CropFeatures.extractor) version \(CropFeatures.version)'s features in order: "
                    + CropFeatures.names.joined(separator: ", "))
        }
        guard inputSize >= 2 else { throw ModelError("features need crops of at least 2 × 2 pixels; input.size is \(inputSize)") }
        return Features(mean: try string(f["mean"], "features.mean"), scale: try string(f["scale"], "features.scale"))
    }

    private static func op(_ value: JSONValue, index i: Int) throws(ModelError) -> Op {
        guard case .object(let f) = value, case .string(let name)? = f["op"] else {
            throw ModelError("layers[\(i)]: \(value) is not an object with an \"op\" name")
        }
        let at = "layers[\(i)] (\(name))"
        switch name {
        case "conv2d":
            return .conv2d(
                weight: try string(f["weight"], "\(at).weight"), bias: try optionalString(f["bias"], "\(at).bias"),
                stride: try int(f["stride"], "\(at).stride", min: 1), padding: try int(f["padding"], "\(at).padding", min: 0))
        case "batchnorm2d":
            return .batchnorm2d(prefix: try string(f["prefix"], "\(at).prefix"), eps: Float(try positive(f["eps"], "\(at).eps")))
        case "leaky_relu":
            return .leakyReLU(slope: Float(try number(f["slope"], "\(at).slope")))
        case "relu": return .relu
        case "dropout": return .dropout
        case "avgpool2d":
            if case .bool(true)? = f["global"] { return .globalAvgPool }
            return .avgpool2d(kernel: try int(f["kernel"], "\(at).kernel", min: 1), stride: try int(f["stride"], "\(at).stride", min: 1))
        case "flatten": return .flatten
        case "linear":
            return .linear(weight: try string(f["weight"], "\(at).weight"), bias: try optionalString(f["bias"], "\(at).bias"))
        default:
            throw ModelError(
                "layers[\(i)]: unknown op \"\(name)\"; supported: conv2d, batchnorm2d, leaky_relu, relu, dropout, avgpool2d, flatten, linear")
        }
    }

    private static func string(_ v: JSONValue?, _ what: String) throws(ModelError) -> String {
        guard case .string(let s)? = v, !s.isEmpty else { throw ModelError("\(what) must be a tensor name (string)") }
        return s
    }

    private static func optionalString(_ v: JSONValue?, _ what: String) throws(ModelError) -> String? {
        if v == nil || v == .null { return nil }
        return try string(v, what)
    }

    private static func int(_ v: JSONValue?, _ what: String, min: Int) throws(ModelError) -> Int {
        guard case .integer(let n)? = v, n >= min, n <= 1 << 20 else {
            throw ModelError("\(what) must be an integer ≥ \(min); got \(v?.description ?? "nothing")")
        }
        return Int(n)
    }

    private static func number(_ v: JSONValue?, _ what: String) throws(ModelError) -> Double {
        switch v {
        case .integer(let n)?: return Double(n)
        case .double(let x)? where x.isFinite: return x
        default: throw ModelError("\(what) must be a finite number; got \(v?.description ?? "nothing")")
        }
    }

    private static func positive(_ v: JSONValue?, _ what: String) throws(ModelError) -> Double {
        let x = try number(v, what)
        guard x > 0 else { throw ModelError("\(what) must be positive; got \(x)") }
        return x
    }
}
