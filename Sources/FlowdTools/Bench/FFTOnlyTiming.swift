import CFFTW
import FFTWSupport
import SystemSupport

/// The floor every reconstruction pays: one plain 2-D real-to-complex FFTW transform of a
/// `size`² hologram (FFTW_MEASURE plan, one thread), measured in the benchmark's own run so that
/// the ratio to it cancels the machine's speed. In thread CPU time, as the costs it is compared
/// with: under load, wall time counts the time other processes ran.
enum FFTOnlyTiming {
    /// Mean thread CPU time of one transform over `repeats`, ms.
    static func milliseconds(size: Int, repeats: Int) -> Double {
        let input = AlignedBuffer<Float>(count: size * size, initial: 0)
        let output = AlignedBuffer<fftwf_complex>(count: size * (size / 2 + 1), initial: (0, 0))
        let plan = FFTWPlanner.withLock {
            fftwf_plan_dft_r2c_2d(Int32(size), Int32(size), input.pointer, output.pointer, UInt32(FFTW_MEASURE))!
        }
        defer { FFTWPlanner.withLock { fftwf_destroy_plan(plan) } }
        for i in 0..<(size * size) { input[i] = Float(i % 251) }
        fftwf_execute(plan)
        let start = threadCPUNanoseconds()
        for _ in 0..<repeats { fftwf_execute(plan) }
        return Double(threadCPUNanoseconds() - start) * 1e-6 / Double(repeats)
    }
}
