import Inference
import Reconstruction

/// A model in service: the model and one preallocated ``WorkerClassifier`` per frame worker.
///
/// Immutable once made. A model reload makes a whole new one (every arena allocated before the
/// swap), so that the workers never allocate, and a frame that took the old one finishes with
/// it while later frames take the new one (``ClassifierSlot``).
final class Classifier: Sendable {
    let model: Model
    /// One per frame worker, by index.
    let workers: [WorkerClassifier]

    /// - Parameter threads: GEMM threads of each worker's context (``BLASRuntime/threadsPerWorker(workers:)``).
    init(model: Model, workers: Int, maxBatch: Int, threads: Int) throws(ModelError) {
        self.model = model
        var made: [WorkerClassifier] = []
        for _ in 0..<max(1, workers) { made.append(try WorkerClassifier(model: model, maxBatch: maxBatch, threads: threads)) }
        self.workers = made
    }

    /// Classifies `cells` on worker `worker`'s context.
    func classify(_ cells: inout [DetectedCell], worker: Int) throws {
        try workers[worker].classify(&cells)
    }
}
