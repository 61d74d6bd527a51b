import Foundation

/// A TOP-GAN classifier loaded from a model file (docs/model-format.md), compiled for inference:
/// weights converted to F32 and laid out for NHWC GEMMs, batch norms folded into the preceding
/// convolutions, activations fused. Immutable, so one `Model` serves any number of
/// ``InferenceContext``s (one per worker thread).
public final class Model: Sendable {
    /// Class names in output order.
    public let classes: [String]
    /// Pixels per side of the (square) OPD crop the network reads.
    public let inputSize: Int
    /// Pixel pitch of the crops the model was trained on, µm (the reconstruction must match it).
    public let pixelMicrometres: Double
    /// The network input is clamp(opd_nm / opdScaleNanometres, −1, 1); a features model reads OPD
    /// in nm, and this is the OPD range of its training cells (`flowd bench` draws crops in ±it).
    public let opdScaleNanometres: Double
    /// Floating-point operations (2 × multiply-adds) per image.
    public let flopsPerImage: Int
    /// The GEMM that runs the convolutions (resolved: `packed` or `openBLAS`).
    public let backend: GemmBackend

    let layers: [Layer]
    /// A features model's input stage (format version 2); nil when the layers read the crop.
    let featureInput: FeatureInput?

    /// Whether the layers read the crop's standardised ``CropFeatures`` instead of the crop.
    public var readsFeatures: Bool { featureInput != nil }

    /// Loads and validates a model file; every defect is an error that names the tensor, op or
    /// byte offset at fault.
    public convenience init(contentsOf url: URL, backend: GemmBackend = .automatic) throws(ModelError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError("cannot read model \(url.path): \(error.localizedDescription)")
        }
        do {
            try self.init(safetensors: [UInt8](data), backend: backend)
        } catch {
            throw ModelError("model \(url.path): \(error.message)")
        }
    }

    /// Loads a model from the bytes of a safetensors file.
    public init(safetensors bytes: [UInt8], backend: GemmBackend = .automatic) throws(ModelError) {
        let file = try SafeTensors(bytes: bytes)
        guard let json = file.metadata["topgan"] else {
            throw ModelError("no __metadata__[\"topgan\"] entry: not a topgan classifier (export it with topgan export)")
        }
        let spec = try ModelSpec(json: json)
        let backend = GemmBackend.resolve(backend, environment: ProcessInfo.processInfo.environment)
        let compiler = ModelCompiler(spec: spec, tensors: file, backend: backend)
        let layers = try compiler.compile()
        self.featureInput = try compiler.featureInput()
        self.backend = backend
        self.classes = spec.classes
        self.inputSize = spec.inputSize
        self.pixelMicrometres = spec.pixelMicrometres
        self.opdScaleNanometres = spec.opdScaleNanometres
        self.layers = layers
        self.flopsPerImage = layers.reduce(0) { $0 + $1.flops }
    }

    /// Floats per input image: inputSize².
    public var inputCount: Int { inputSize * inputSize }

    /// A one-line description for logs: layer count, classes, GFLOP per image.
    public var summary: String {
        let convs = layers.filter { if case .convolution = $0 { true } else { false } }.count
        let input = readsFeatures
            ? "input \(inputSize)×\(inputSize) → \(CropFeatures.count) \(CropFeatures.extractor) features"
            : "input \(inputSize)×\(inputSize)"
        return "\(layers.count) layers (\(convs) convolutions), \(input), "
            + "classes [\(classes.joined(separator: ", "))], "
            + String(format: "%.3f GFLOP/image", Double(flopsPerImage) / 1e9) + ", convolutions on \(backend.rawValue) GEMM"
    }
}
