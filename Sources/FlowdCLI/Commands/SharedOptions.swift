import ArgumentParser
import FlowDaemon
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

/// `--model`, defaulting to the default model installed with flowd (``DefaultModel``: the
/// daemon's own default for an empty `model.path`).
struct ShippedModelOption: ParsableArguments {
    @Option(help: "Classifier model file (default: the installed default model).")
    var model: String = DefaultModel.locate() ?? DefaultModel.candidates()[0]

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: model) else {
            throw ValidationError("no readable model file at \(model): give --model PATH (or install flowd: make install)")
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
