import Inference
import Reconstruction

/// What one frame worker owns: an FFTW workspace per reconstructor (one per camera, or one
/// shared by all cameras with a configured reference) and an inference context with its input
/// and output buffers. Only its own worker touches it, so nothing here is locked.
final class PipelineWorker: @unchecked Sendable {
    // Sendable: used by one worker thread at a time (its own, then `finish` after it returned).
    private var workspaces: [ObjectIdentifier: ReconstructionWorkspace] = [:]
    let context: InferenceContext?
    /// [maxBatch, S, S] crops in nm, and [maxBatch, classes] probabilities.
    var input: [Float]
    var output: [Float]

    init(model: Model?, maxBatch: Int, threads: Int) throws {
        if let model {
            context = try InferenceContext(model: model, maxBatch: maxBatch, threads: threads)
        } else {
            context = nil
        }
        input = [Float](repeating: 0, count: model.map { maxBatch * $0.inputCount } ?? 0)
        output = [Float](repeating: 0, count: model.map { maxBatch * $0.classes.count } ?? 0)
    }

    func workspace(for reconstructor: OffAxisReconstructor) -> ReconstructionWorkspace {
        if let workspace = workspaces[ObjectIdentifier(reconstructor)] { return workspace }
        let workspace = reconstructor.makeWorkspace()
        workspaces[ObjectIdentifier(reconstructor)] = workspace
        return workspace
    }

    /// Classifies the crops of `cells` in batches of up to the context's `maxBatch` and stores
    /// each cell's probabilities. Without a model, the cells stay unclassified.
    func classify(_ cells: inout [DetectedCell]) throws {
        guard let context, !cells.isEmpty else { return }
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
