import CFFTW
import Foundation
import SystemSupport

/// The one place where FFTW plans are made.
///
/// FFTW's planner is not thread-safe (only `fftwf_execute*` is), so every plan in the process is
/// created under this global lock, once per size and kind, and cached for the process lifetime;
/// workers then run the cached plans on their own buffers with the new-array execute functions.
/// Plans are measured (`FFTW_MEASURE`), which takes a second or so per size the first time.
public enum FFTWPlanner {
    /// An immutable FFTW plan; executing it concurrently on different buffers is allowed.
    public struct Plan: @unchecked Sendable {
        public let raw: fftwf_plan
    }

    private struct Key: Hashable {
        let kind: String
        let dims: [Int]
    }

    nonisolated(unsafe) private static var cache: [Key: Plan] = [:]
    private static let lock = NSLock()

    /// Returns the cached plan for `kind`/`dims`, or runs `make` under the lock to create it.
    /// `make` gets scratch buffers it may overwrite (planning with MEASURE destroys them).
    public static func plan(kind: String, dims: [Int], make: () -> fftwf_plan?) -> Plan {
        lock.lock()
        defer { lock.unlock() }
        let key = Key(kind: kind, dims: dims)
        if let plan = cache[key] { return plan }
        guard let raw = make() else { fatalError("FFTW could not plan \(kind) \(dims)") }
        let plan = Plan(raw: raw)
        cache[key] = plan
        return plan
    }

    /// Runs `body` under the planner lock (for planning FFTW calls made outside `plan`).
    public static func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

extension FFTWPlanner {
    /// In-place 2-D complex FFT of `rows × cols` (direction `FFTW_FORWARD` or `FFTW_BACKWARD`),
    /// unnormalised as FFTW defines it. Used by the twin's angular-spectrum propagation and the
    /// full-resolution OPD (`SidebandFilter`).
    public static func complex2D(rows: Int, cols: Int, direction: Int32) -> Plan {
        plan(kind: "c2c2d\(direction)", dims: [rows, cols]) {
            let scratch = AlignedBuffer<fftwf_complex>(count: rows * cols, initial: (0, 0))
            return fftwf_plan_dft_2d(Int32(rows), Int32(cols), scratch.pointer, scratch.pointer, direction, UInt32(FFTW_ESTIMATE))
        }
    }
}
