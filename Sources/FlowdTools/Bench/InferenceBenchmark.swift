import Dispatch
import Foundation
import Inference
import Logging
import Protocol

/// `flowd bench inference`: latency and throughput of a model file at several batch sizes, next
/// to the sgemm rate measured in the same run. scripts/bench-inference runs it beside PyTorch
/// and ONNX Runtime on the same model and inputs.
public struct InferenceBenchmark {
    public var model: String
    /// Batch sizes, one measurement each.
    public var batch: [Int]
    /// Seconds of timed runs per batch size (after a warm-up).
    public var seconds: Double
    /// Threads per forward pass; `nil`: all cores.
    public var threads: Int?
    /// Crops to draw the inputs from, .npy float32 [N, S, S]; `nil`: seeded noise.
    public var input: String?
    /// Print one JSON object instead of a table.
    public var json: Bool

    public init(model: String, batch: [Int], seconds: Double, threads: Int?, input: String?, json: Bool) {
        (self.model, self.batch, self.seconds, self.threads, self.input, self.json) = (model, batch, seconds, threads, input, json)
    }

    struct BatchResult: Codable {
        var batch: Int
        var iterations: Int
        var latency_ms_p50: Double
        var latency_ms_p99: Double
        var latency_ms_max: Double
        var images_per_second: Double
        var gflops: Double
    }

    struct Report: Codable {
        var model: String
        var blas_core: String
        var blas_selection: String
        /// Threads that run each forward pass (the context's GEMM team).
        var threads: Int
        /// OpenBLAS threads inside each sgemm call (1: the team splits the work instead).
        var blas_threads_per_call: Int
        var cores: Int
        var gflop_per_image: Double
        var sgemm_peak_gflops: Double
        var batches: [BatchResult]
    }

    public func run() throws {
        let log = Logger(label: "flowd.bench")
        let threads = self.threads ?? BLASRuntime.cores
        let network = try Model(contentsOf: URL(fileURLWithPath: model))
        let pool = try inputs(for: network, count: batch.max()!)
        var results: [BatchResult] = []
        for b in batch {
            results.append(try measure(network, batch: b, threads: threads, inputs: pool))
        }
        log.info("\(BLASRuntime.selection); \(threads) thread(s) per forward pass")
        let report = Report(
            model: model, blas_core: BLASRuntime.coreName, blas_selection: BLASRuntime.selection,
            threads: threads, blas_threads_per_call: BLASRuntime.threads, cores: BLASRuntime.cores, gflop_per_image: Double(network.flopsPerImage) / 1e9,
            sgemm_peak_gflops: BLASRuntime.measureSgemmPeak(threads: threads), batches: results)
        if json {
            try report.printJSON()
        } else {
            print("\(report.blas_selection); \(threads) thread(s) per forward pass")
            print(String(format: "model %@: %.3f GFLOP/image; sgemm peak %.1f GFLOPS", model, report.gflop_per_image, report.sgemm_peak_gflops))
            print("batch   p50 ms   p99 ms   images/s   GFLOPS")
            for r in results {
                print(String(format: "%5d %8.3f %8.3f %10.1f %8.1f", r.batch, r.latency_ms_p50, r.latency_ms_p99, r.images_per_second, r.gflops))
            }
        }
    }

    /// Crops for the timed runs: from --input, or seeded noise spanning the input range.
    private func inputs(for network: Model, count: Int) throws -> [Float] {
        let perImage = network.inputCount
        if let input {
            let array = try NumPyArray.read(contentsOf: URL(fileURLWithPath: input))
            let s = network.inputSize
            guard array.dtype == .float32, array.shape.count == 3, array.shape[1] == s, array.shape[2] == s, array.shape[0] >= 1 else {
                throw ModelError("\(input): expected float32 [N, \(s), \(s)]; got \(array.dtype.rawValue) \(array.shape)")
            }
            let values = try array.float32Values()
            return (0..<(count * perImage)).map { values[$0 % values.count] }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let scale = Float(network.opdScaleNanometres)
        return (0..<(count * perImage)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    private func measure(_ network: Model, batch: Int, threads: Int, inputs: [Float]) throws -> BatchResult {
        let context = try InferenceContext(model: network, maxBatch: batch, threads: threads)
        var output = [Float](repeating: 0, count: batch * network.classes.count)
        var latencies = [UInt64](repeating: 0, count: 1 << 20)
        var iterations = 0
        try inputs.withUnsafeBufferPointer { (x) throws(ModelError) in
            try output.withUnsafeMutableBufferPointer { (p) throws(ModelError) in
                let warmUpEnd = DispatchTime.now().uptimeNanoseconds + 300_000_000
                while DispatchTime.now().uptimeNanoseconds < warmUpEnd {
                    try context.classify(opd: x, batch: batch, probabilities: p)
                }
                let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
                var now = DispatchTime.now().uptimeNanoseconds
                while now < end && iterations < latencies.count {
                    try context.classify(opd: x, batch: batch, probabilities: p)
                    let after = DispatchTime.now().uptimeNanoseconds
                    latencies[iterations] = after - now
                    iterations += 1
                    now = after
                }
            }
        }
        let sorted = latencies[0..<iterations].sorted()
        func percentile(_ q: Double) -> Double { Double(sorted.nearestRank(q)!) / 1e6 }
        let total = Double(sorted.reduce(0, +)) / 1e9
        let rate = Double(batch * iterations) / total
        return BatchResult(
            batch: batch, iterations: iterations, latency_ms_p50: percentile(0.5), latency_ms_p99: percentile(0.99),
            latency_ms_max: Double(sorted.last!) / 1e6, images_per_second: rate,
            gflops: rate * Double(network.flopsPerImage) / 1e9)
    }
}
