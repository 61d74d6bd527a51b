import Inference

/// The fuzz target (libFuzzer calls it with each input): one input is the bytes of a model file.
///
/// Loading must succeed or throw a ``ModelError``; a model that loads must also run: one crop
/// through a fresh one-image ``InferenceContext`` (which may refuse an arena over its limit, with
/// an error). A crash in either is a finding: the loader promises that every defect of a file is
/// caught before a weight is used.
func fuzzModelLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? Model(safetensors: bytes) else { return 0 }
    do {
        let context = try InferenceContext(model: model, maxBatch: 1, threads: 1)
        let probabilities = try context.classify(opd: [Float](repeating: 100, count: model.inputCount))
        precondition(probabilities.count == model.classes.count)
    } catch {
        // Refused with a message: allowed.
    }
    return 0
}
