import ArgumentParser
import Foundation

// Options several subcommands take, each declared and checked once.

/// `--size`: hologram width and height, pixels.
struct FrameSizeOption: ParsableArguments {
    @Option(help: "Frame width and height, pixels (even, 64–4096).")
    var size: Int = 1024

    func validate() throws {
        guard (64...4096).contains(size), size % 2 == 0 else { throw ValidationError("--size must be even, 64–4096") }
    }
}

/// `--model`, defaulting to the model the repository ships (for the tools run from its root).
struct ShippedModelOption: ParsableArguments {
    @Option(help: "Classifier model file.")
    var model: String = "models/topgan-default.safetensors"

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: model) else {
            throw ValidationError("no readable model file at \(model): run from the repository root, or give --model PATH")
        }
    }
}

/// `--threads`: threads per forward pass of the classifier.
struct InferenceThreadsOption: ParsableArguments {
    @Option(help: "Threads per forward pass (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1; got \(threads)") }
    }
}

/// `--json`: a benchmark's report as one JSON object.
struct JSONReportOption: ParsableArguments {
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false
}
