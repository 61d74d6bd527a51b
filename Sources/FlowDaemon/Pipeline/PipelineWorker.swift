import Reconstruction

/// What one frame worker owns for reconstruction: an FFTW workspace per reconstructor (one per
/// camera, or one shared by all cameras with a configured reference). Its inference context is
/// the current ``Classifier``'s, by ``index``. Only its own worker touches it, so nothing here
/// is locked.
final class PipelineWorker: @unchecked Sendable {
    // Sendable: used by one worker thread at a time (its own, then `finish` after it returned).
    private var workspaces: [ObjectIdentifier: ReconstructionWorkspace] = [:]
    /// The worker's number, 0 ..< workers.
    let index: Int

    init(index: Int) {
        self.index = index
    }

    func workspace(for reconstructor: OffAxisReconstructor) -> ReconstructionWorkspace {
        if let workspace = workspaces[ObjectIdentifier(reconstructor)] { return workspace }
        let workspace = reconstructor.makeWorkspace()
        workspaces[ObjectIdentifier(reconstructor)] = workspace
        return workspace
    }
}
