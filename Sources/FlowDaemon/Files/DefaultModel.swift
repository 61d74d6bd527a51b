import Foundation
import Inference

/// The classifier a daemon uses when `model.path` names none: the default model installed with
/// flowd (`make install` puts it at `<prefix>/share/flowd/topgan-default.safetensors`, beside
/// `<prefix>/bin/flowd`), or, for a binary built in the repository, the repository's
/// `models/topgan-default.safetensors`. `model.path: none` runs without a classifier
/// (reconstruction, tracking, counting and recording only; cells are `unclassified`).
public enum DefaultModel {
    public static let fileName = "topgan-default.safetensors"
    /// The `model.path` value that turns classification off.
    public static let noModel = "none"

    /// Where the default model is looked for, in order, for the executable at `executable`:
    /// `<bin>/../share/flowd/<file>`, then `<ancestor>/models/<file>` for the executable's
    /// first four ancestors (`.build/<triple>/release/flowd` is three below the repository).
    public static func candidates(executable: String = runningExecutable) -> [String] {
        let bin = URL(fileURLWithPath: executable).deletingLastPathComponent()
        var paths = [bin.deletingLastPathComponent().appendingPathComponent("share/flowd/" + fileName).path]
        var ancestor = bin
        for _ in 0..<4 where ancestor.path != "/" {
            paths.append(ancestor.appendingPathComponent("models/" + fileName).path)
            ancestor.deleteLastPathComponent()
        }
        return paths
    }

    /// The first readable candidate, if any.
    public static func locate(executable: String = runningExecutable) -> String? {
        candidates(executable: executable).first { FileManager.default.isReadableFile(atPath: $0) }
    }

    /// The model file `configured` (a `model.path` value) means: nil for `none`, the default
    /// model for an empty value, else the value itself. An empty value without an installed
    /// default model is an error that says where it looked and what to set instead.
    static func path(configured: String, executable: String = runningExecutable) throws(ModelError) -> String? {
        switch configured {
        case noModel: return nil
        case "":
            guard let found = locate(executable: executable) else {
                throw ModelError(
                    "model.path is empty and no default model is installed (looked in "
                        + candidates(executable: executable).joined(separator: ", ")
                        + "): set model.path to a model file, or model.path: none to run without a classifier")
            }
            return found
        default: return configured
        }
    }

    /// This process's executable, symlinks resolved (so that `.build/release/flowd` finds the
    /// repository it was built in).
    public static var runningExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
