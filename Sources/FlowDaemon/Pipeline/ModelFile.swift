import Foundation
import Inference
import ContentHash

/// A model file loaded for the daemon: the compiled model and the SHA-256 of the very bytes it
/// was compiled from (run records name it, so a run's classifier is known exactly even if the
/// file is replaced later).
struct ModelFile: Sendable {
    let path: String
    let sha256: String
    let model: Model

    /// Reads, validates and compiles the file; the errors are the loader's, naming the path.
    init(path: String) throws(ModelError) {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ModelError("cannot read model \(path): \(error.localizedDescription)")
        }
        do {
            model = try Model(safetensors: bytes)
        } catch {
            throw ModelError("model \(path): \(error.message)")
        }
        self.path = path
        sha256 = sha256Hex(bytes)
    }

    /// What run.json and `status` say about it.
    var info: RunMetadata.ModelInfo {
        RunMetadata.ModelInfo(path: path, sha256: sha256, classes: model.classes)
    }
}
