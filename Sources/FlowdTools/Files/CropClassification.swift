import Foundation
import Inference
import Logging
import Protocol

/// `flowd classify`: a model file run on OPD crops stored as .npy (float32 [N, S, S], nm), the
/// batch path of the daemon's classifier; writes softmax probabilities, float32 [N, classes].
/// Also what the parity tests compare with PyTorch.
public struct CropClassification {
    public var model: String
    public var input: String
    public var out: String
    /// Crops per forward pass (the arena is sized for it).
    public var batch: Int
    /// Threads per forward pass; `nil`: all cores.
    public var threads: Int?

    public init(model: String, input: String, out: String, batch: Int, threads: Int?) {
        (self.model, self.input, self.out, self.batch, self.threads) = (model, input, out, batch, threads)
    }

    public func run() throws {
        let log = Logger(label: "flowd.classify")
        let network = try Model(contentsOf: URL(fileURLWithPath: model))
        log.info("model \(model): \(network.summary)")
        let crops = try NumPyArray.read(contentsOf: URL(fileURLWithPath: input))
        let s = network.inputSize
        guard crops.dtype == .float32, crops.shape.count == 3, crops.shape[1] == s, crops.shape[2] == s else {
            throw ModelError(
                "\(input): expected float32 [N, \(s), \(s)] OPD crops in nm for this model; got \(crops.dtype.rawValue) \(crops.shape)")
        }
        let n = crops.shape[0]
        var probabilities: [Float] = []
        if n > 0 {
            let context = try InferenceContext(model: network, maxBatch: min(batch, n), threads: threads ?? BLASRuntime.cores)
            log.info("\(BLASRuntime.selection); \(context.threads) thread(s) per forward pass")
            probabilities = try context.classify(opd: crops.float32Values())
        }
        try NumPyArray(float32: probabilities, shape: [n, network.classes.count]).write(to: URL(fileURLWithPath: out))
        log.info("classified \(n) crop(s) into \(out)")
    }
}
