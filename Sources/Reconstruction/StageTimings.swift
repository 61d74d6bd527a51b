import Foundation

/// The pipeline's stages, as `flowd bench reconstruct` reports them. `fft_rows` includes the
/// conversion of the pixels to float, which is done block by block just before the row FFTs.
public enum Stage: String, CaseIterable, Sendable {
    case fftRows = "fft_rows", fftColumns = "fft_columns", filter, inverseFFT = "inverse_fft"
    case phase, background, detect, refocus, unwrap, measure
}

/// Accumulated wall time per stage, for profiling (one per worker; not thread-safe).
public final class StageTimings {
    public private(set) var seconds = [Double](repeating: 0, count: Stage.allCases.count)

    public init() {}

    func add(_ stage: Stage, _ dt: Double) {
        seconds[Stage.allCases.firstIndex(of: stage)!] += dt
    }

    public subscript(stage: Stage) -> Double { seconds[Stage.allCases.firstIndex(of: stage)!] }
}

/// Monotonic lap timer.
struct StageClock {
    private var last = DispatchTime.now().uptimeNanoseconds

    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) * 1e-9
    }
}
