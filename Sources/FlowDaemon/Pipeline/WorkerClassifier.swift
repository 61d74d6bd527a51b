import Inference
import Reconstruction

/// One frame worker's inference context with its input and output buffers, all allocated once:
/// classifying a frame's crops allocates nothing in the engine. Only its own worker uses it, so
/// nothing here is locked.
final class WorkerClassifier: @unchecked Sendable {
    // Sendable: used by one worker thread at a time (its own, then `finish` after it returned).
    let context: InferenceContext
    /// [maxBatch, S, S] crops in nm, and [maxBatch, classes] probabilities.
    private var input: [Float]
    private var output: [Float]

    init(model: Model, maxBatch: Int, threads: Int) throws(ModelError) {
        context = try InferenceContext(model: model, maxBatch: maxBatch, threads: threads)
        input = [Float](repeating: 0, count: maxBatch * model.inputCount)
        output = [Float](repeating: 0, count: maxBatch * model.classes.count)
    }

    /// Classifies the crops of `cells` in batches of up to the context's `maxBatch` and stores
    /// each cell's probabilities.
    func classify(_ cells: inout [DetectedCell]) throws {
        let perImage = context.model.inputCount, classes = context.model.classes.count
        var start = 0
        while start < cells.count {
            let batch = min(context.maxBatch, cells.count - start)
            for i in 0..<batch {
                input.replaceSubrange(i * perImage..<(i + 1) * perImage, with: cells[start + i].crop)
            }
            try input.withUnsafeBufferPointer { opd in
                try output.withUnsafeMutableBufferPointer { probabilities in
                    try context.classify(opd: opd, batch: batch, probabilities: probabilities)
                }
            }
            for i in 0..<batch { cells[start + i].probabilities = Array(output[i * classes..<(i + 1) * classes]) }
            start += batch
        }
    }
}
