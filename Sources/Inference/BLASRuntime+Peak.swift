import CBLAS
import Foundation

extension BLASRuntime {
    /// The sgemm rate this process achieves right now, GFLOPS: the best of a few square
    /// n×n×n products (2n³ flops each) with the current core on `threads` OpenBLAS threads
    /// (restored afterwards). It is the ceiling an im2col + GEMM network can approach, measured
    /// in the same run as the network so that a shared, noisy machine affects both alike.
    public static func measureSgemmPeak(threads: Int = cores, size n: Int = 1536, repetitions: Int = 6) -> Double {
        let previous = self.threads
        setThreads(threads)
        defer { setThreads(previous) }
        let a = [Float](repeating: 0.5, count: n * n)
        let b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<max(2, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            c.withUnsafeMutableBufferPointer { cp in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                    1, a, Int32(n), b, Int32(n), 0, cp.baseAddress, Int32(n))
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return 2 * Double(n) * Double(n) * Double(n) / best
    }
}
