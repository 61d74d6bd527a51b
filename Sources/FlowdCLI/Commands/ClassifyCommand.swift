import ArgumentParser
import FlowdTools

/// `flowd classify`: ``CropClassification``.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify OPD crops with a TOP-GAN model file.",
        discussion: "Reads X float32 [N, S, S] (OPD in nm, S = the model's input size) and writes "
            + "P float32 [N, classes], softmax probabilities in the model's class order.")

    @Option(help: "Model file (safetensors; docs/model-format.md).")
    var model: String

    @Option(help: "OPD crops, .npy float32 [N, S, S] in nm.")
    var input: String

    @Option(help: "Where to write the probabilities, .npy float32 [N, classes].")
    var out: String

    @Option(help: "Crops per forward pass (the arena is sized for it).")
    var batch: Int = 32

    @OptionGroup var threads: InferenceThreadsOption

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1; got \(batch)") }
    }

    func run() throws {
        try CropClassification(model: model, input: input, out: out, batch: batch, threads: threads.threads).run()
    }
}
