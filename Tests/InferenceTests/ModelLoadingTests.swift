import Foundation
import Testing

@testable import Inference
import InferenceTestSupport

/// Each defect of a model file is refused with a message that names the tensor, op or byte
/// offset at fault. One test per defect.
@Suite("Model loading rejects malformed files")
struct ModelLoadingTests {
    let network = TinyNetwork()

    private func rejection(_ bytes: [UInt8]) -> String {
        do {
            _ = try Model(safetensors: bytes)
            return "loaded without error"
        } catch {
            return error.message
        }
    }

    private func rejection(editing edit: (inout SafeTensorsBuilder) -> Void) -> String {
        var b = network.builder()
        edit(&b)
        return rejection(b.bytes())
    }

    private func rejection(metadata edit: @escaping (inout [String: Any]) -> Void) -> String {
        rejection { $0.metadata["topgan"] = network.metadata(edit) }
    }

    @Test("the valid file loads")
    func validFileLoads() throws {
        let model = try network.model()
        #expect(model.classes == TinyNetwork.classes)
        #expect(model.inputSize == 8)
        #expect(model.opdScaleNanometres == 300)
        #expect(model.pixelMicrometres == 0.25)
    }

    @Test("a missing tensor is named")
    func missingTensor() {
        let message = rejection { $0.remove("c2.weight") }
        #expect(message == "layers[3] (conv2d): tensor 'c2.weight' is missing from the file")
    }

    @Test("a missing batch-norm statistic is named")
    func missingNormStatistic() {
        let message = rejection { $0.remove("n1.running_var") }
        #expect(message == "layers[1] (batchnorm2d): tensor 'n1.running_var' is missing from the file")
    }

    @Test("a bias of the wrong shape is named with both shapes")
    func biasShapeMismatch() {
        var b = network.builder()
        b.remove("c1.bias")
        b.add("c1.bias", shape: [5], values: [0, 0, 0, 0, 0])
        #expect(rejection(b.bytes()) == "layers[0] (conv2d): tensor 'c1.bias' has shape [5], expected [4]")
    }

    @Test("a convolution whose input channels do not match the previous op is named")
    func convChannelMismatch() {
        var b = network.builder()
        b.remove("c2.weight")
        b.add("c2.weight", shape: [6, 3, 4, 4], values: [Float](repeating: 0.1, count: 6 * 3 * 16))
        #expect(rejection(b.bytes()).hasPrefix("layers[3] (conv2d): tensor 'c2.weight' has shape [6, 3, 4, 4], expected [out_channels, 4, kh, kw]"))
    }

    @Test("a linear layer whose input features do not match is named")
    func linearShapeMismatch() {
        var b = network.builder()
        b.remove("fc1.weight")
        b.add("fc1.weight", shape: [5, 25], values: [Float](repeating: 0.1, count: 125))
        #expect(rejection(b.bytes()) == "layers[9] (linear): tensor 'fc1.weight' has shape [5, 25], expected [out_features, 24]")
    }

    @Test("an unknown op is named with its index")
    func unknownOp() {
        let message = rejection(metadata: { m in
            var layers = m["layers"] as! [[String: Any]]
            layers[6] = ["op": "conv3d"]
            m["layers"] = layers
        })
        #expect(message.hasPrefix("layers[6]: unknown op \"conv3d\"; supported: conv2d"))
    }

    @Test("a NaN weight is named with its element and byte offset")
    func nanWeight() {
        var b = network.builder()
        var values = network.tensors["fc2.weight"]!.values
        values[4] = .nan
        b.remove("fc2.weight")
        b.add("fc2.weight", shape: [3, 5], values: values)
        let message = rejection(b.bytes())
        #expect(message.hasPrefix("tensor 'fc2.weight': element 4 (byte offset "))
        #expect(message.hasSuffix(") is nan; weights must be finite"))
    }

    @Test("an infinite weight is refused")
    func infiniteWeight() {
        var b = network.builder()
        var values = network.tensors["n2.running_var"]!.values
        values[0] = .infinity
        b.remove("n2.running_var")
        b.add("n2.running_var", shape: [6], values: values)
        #expect(rejection(b.bytes()).contains("tensor 'n2.running_var': element 0"))
    }

    @Test("a negative running variance is refused")
    func negativeVariance() {
        var b = network.builder()
        b.remove("n1.running_var")
        b.add("n1.running_var", shape: [4], values: [1, -1, 1, 1])
        #expect(rejection(b.bytes()) == "layers[1] (batchnorm2d): tensor 'n1.running_var' element 1 is negative (-1.0)")
    }

    @Test("a truncated file names the tensor whose data runs past the end")
    func truncatedFile() {
        let bytes = network.builder().bytes()
        let message = rejection(Array(bytes.dropLast(10)))
        #expect(message.contains("past the end of the file (\(bytes.count - 10) bytes; truncated file?)"))
    }

    @Test("a file shorter than the 8-byte header length is refused")
    func tooShort() {
        #expect(rejection([1, 2, 3]) == "truncated file: 3 bytes; a safetensors file starts with an 8-byte header length")
    }

    @Test("a header length beyond the file is refused at byte offset 0")
    func headerLengthBeyondFile() {
        var bytes = network.builder().bytes()
        bytes[0] = 0xFF
        bytes[1] = 0xFF
        bytes[2] = 0x0F
        #expect(rejection(bytes).hasPrefix("bad header length at byte offset 0: 1048575 bytes, but only"))
    }

    @Test("an absurd header length is refused before anything is read")
    func absurdHeaderLength() {
        var bytes = network.builder().bytes()
        bytes[7] = 0x40
        #expect(rejection(bytes).hasPrefix("bad header length at byte offset 0:"))
    }

    @Test("a header that is not JSON is refused")
    func headerNotJSON() {
        var bytes = network.builder().bytes()
        bytes[8] = UInt8(ascii: "#")
        #expect(rejection(bytes).hasPrefix("the header at byte offset 8"))
    }

    @Test("a tensor of an unsupported dtype is named with the dtype")
    func wrongDtype() {
        var b = network.builder()
        b.remove("c1.bias")
        b.add("c1.bias", dtype: "I64", shape: [4], bytes: [UInt8](repeating: 0, count: 32))
        #expect(rejection(b.bytes()) == "layers[0] (conv2d): tensor 'c1.bias' has dtype I64; supported: F32, F16, BF16")
    }

    @Test("data_offsets that disagree with dtype × shape are refused")
    func offsetsDisagreeWithShape() {
        var b = network.builder()
        b.remove("fc2.bias")
        b.add("fc2.bias", dtype: "F32", shape: [3], bytes: [UInt8](repeating: 0, count: 8))
        #expect(rejection(b.bytes()) == "tensor 'fc2.bias': data_offsets span 8 bytes, but shape [3] of F32 needs 12")
    }

    @Test("fuzzing: a tensor shape whose element count overflows an Int is refused, not a trap")
    func shapeProductOverflow() {
        // A 2^21-wide kernel over the 8-pixel input padded to 2^21 makes a 1×1 output, so the
        // 2^24 channels pass the activation bound and the weight's 2^66 elements are counted.
        var b = network.builder()
        b.replace("c1.weight", with: .init(dtype: "F32", shape: [1 << 24, 1, 1 << 21, 1 << 21], bytes: [0, 0, 0, 0]))
        b.metadata["topgan"] = network.metadata { meta in
            var layers = meta["layers"] as! [[String: Any]]
            layers[0]["padding"] = (1 << 20) - 4
            meta["layers"] = layers
        }
        let message = rejection(b.bytes())
        #expect(message == "tensor 'c1.weight': shape [16777216, 1, 2097152, 2097152] has more elements than any file can hold")
    }

    @Test("fuzzing: a convolution padded into an activation of over 2^26 values per image is refused")
    func paddingBlowsUpTheActivation() {
        let message = rejection(metadata: { meta in
            var layers = meta["layers"] as! [[String: Any]]
            layers[0]["padding"] = 1 << 20
            meta["layers"] = layers
        })
        #expect(message.contains("layers[0] (conv2d): its output [4, 2097158, 2097158] is over 67108864 values"), "\(message)")
    }

    @Test("a file without topgan metadata is refused")
    func missingMetadata() {
        #expect(rejection { $0.metadata = [:] }.hasPrefix("no __metadata__[\"topgan\"] entry"))
    }

    @Test("another format name or version is refused")
    func wrongFormatOrVersion() {
        #expect(rejection(metadata: { $0["format"] = "onnx" }) == "metadata format is \"onnx\", expected \"topgan-classifier\"")
        #expect(rejection(metadata: { $0["version"] = 3 }) == "metadata version is 3; this flowd reads versions 1–2")
    }

    @Test("a missing or non-positive opd_scale_nm is refused")
    func badInputScale() {
        #expect(rejection(metadata: { $0["input"] = ["size": 8, "pixel_um": 0.25, "opd_scale_nm": 0] })
            == "input.opd_scale_nm must be positive; got 0.0")
        #expect(rejection(metadata: { $0["input"] = ["size": 8, "pixel_um": 0.25] }).hasPrefix("input.opd_scale_nm must be a finite number"))
    }

    @Test("an input size the layers cannot take is refused at the op that fails")
    func inputTooSmall() {
        let message = rejection(metadata: { $0["input"] = ["size": 2, "pixel_um": 0.25, "opd_scale_nm": 300] })
        #expect(message.hasPrefix("layers[7] (avgpool2d): a 2×2 window needs"))
    }

    @Test("more classes than outputs is refused")
    func classCountMismatch() {
        #expect(rejection(metadata: { $0["classes"] = ["a", "b", "c", "d"] }).hasPrefix(
            "the layers end with output [3], but the model has 4 classes"))
    }

    @Test("duplicate class names are refused")
    func duplicateClasses() {
        #expect(rejection(metadata: { $0["classes"] = ["a", "b", "a"] }).hasPrefix("metadata classes"))
    }

    @Test("a linear layer on a feature map needs a flatten first")
    func linearWithoutFlatten() {
        let message = rejection(metadata: { m in
            var layers = m["layers"] as! [[String: Any]]
            layers.remove(at: 8)
            m["layers"] = layers
        })
        #expect(message.hasPrefix("layers[8] (linear): needs flat features; add a flatten op before it"))
    }

    @Test("an op with a missing or mistyped field names the field")
    func badField() {
        let message = rejection(metadata: { m in
            var layers = m["layers"] as! [[String: Any]]
            layers[3]["stride"] = "2"
            m["layers"] = layers
        })
        #expect(message == "layers[3] (conv2d).stride must be an integer ≥ 1; got \"2\"")
    }

    @Test("an unreadable path is reported with the path")
    func missingFile() {
        let error = #expect(throws: ModelError.self) { try Model(contentsOf: URL(fileURLWithPath: "/nonexistent/m.safetensors")) }
        #expect(error?.message.hasPrefix("cannot read model /nonexistent/m.safetensors") == true)
    }
}
