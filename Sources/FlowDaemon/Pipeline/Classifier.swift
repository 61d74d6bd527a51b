import Inference
import Reconstruction

/// A model in service: the model and, for each frame worker, an inference context with its
/// input and output buffers, all allocated before the model takes service.
///
/// Immutable once made. A model reload makes a whole new one (every arena allocated before the
/// swap), so that the workers never allocate in the engine, and cells that took the old one
/// finish with it while later cells take the new one (``ClassifierSlot``).
final class Classifier: Sendable {
    let model: Model
    /// One per frame worker, by index; only its own worker uses it.
    private let arenas: [Arena]

    /// - Parameters:
    ///   - maxBatch: crops per inference call, at most (a longer list is classified in batches).
    ///   - threads: GEMM threads of each worker's context (``BLASRuntime/threadsPerWorker(workers:)``).
    init(model: Model, workers: Int, maxBatch: Int, threads: Int) throws(ModelError) {
        self.model = model
        var made: [Arena] = []
        for _ in 0..<max(1, workers) { made.append(try Arena(model: model, maxBatch: maxBatch, threads: threads)) }
        arenas = made
    }

    /// The class probabilities (the model's class order) of each view's crop, classified on
    /// worker `worker`'s context in batches of up to its `maxBatch`.
    func probabilities(of views: [DetectedCell], worker: Int) throws -> [[Float]] {
        try arenas[worker].probabilities(of: views)
    }

    /// Worker `worker`'s inference context.
    func context(worker: Int) -> InferenceContext {
        arenas[worker].context
    }

    /// One worker's context with its [maxBatch, S, S] input (crops in nm) and [maxBatch,
    /// classes] output. Only its own worker uses it, so nothing here is locked.
    private final class Arena: @unchecked Sendable {
        // Sendable: used by one worker thread at a time (its own, then `finish` after it returned).
        let context: InferenceContext
        private var input: [Float]
        private var output: [Float]

        init(model: Model, maxBatch: Int, threads: Int) throws(ModelError) {
            context = try InferenceContext(model: model, maxBatch: maxBatch, threads: threads)
            input = [Float](repeating: 0, count: maxBatch * model.inputCount)
            output = [Float](repeating: 0, count: maxBatch * model.classes.count)
        }

        func probabilities(of views: [DetectedCell]) throws -> [[Float]] {
            let perImage = context.model.inputCount, classes = context.model.classes.count
            var result: [[Float]] = []
            result.reserveCapacity(views.count)
            var start = 0
            while start < views.count {
                let batch = min(context.maxBatch, views.count - start)
                for i in 0..<batch {
                    input.replaceSubrange(i * perImage..<(i + 1) * perImage, with: views[start + i].crop)
                }
                try input.withUnsafeBufferPointer { opd in
                    try output.withUnsafeMutableBufferPointer { probabilities in
                        try context.classify(opd: opd, batch: batch, probabilities: probabilities)
                    }
                }
                for i in 0..<batch { result.append(Array(output[i * classes..<(i + 1) * classes])) }
                start += batch
            }
            return result
        }
    }
}
