import ArgumentParser
import FlowdTools
/// `flowd bench inference`: ``InferenceBenchmark``.
struct BenchInference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference",
        abstract: "Benchmark the classifier: latency p50/p99 and images/s per batch size.")

    @Option(help: "Model file (safetensors; docs/model-format.md).")
    var model: String

    @Option(help: "Comma-separated batch sizes.", transform: BenchInference.parseBatches)
    var batch: [Int] = [1, 8, 32]

    @Option(help: "Seconds of timed runs per batch size (after a warm-up).")
    var seconds: Double = 3

    @OptionGroup var threads: InferenceThreadsOption

    @Option(help: "Crops to draw the inputs from, .npy float32 [N, S, S] (default: seeded noise).")
    var input: String?

    @OptionGroup var report: JSONReportOption

    static func parseBatches(_ text: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--batch must be positive integers separated by commas, e.g. 1,8,32; got \(text)")
        }
        return values.compactMap { $0 }
    }

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        try InferenceBenchmark(model: model, batch: batch, seconds: seconds, threads: threads.threads, input: input, json: report.json).run()
    }
}
