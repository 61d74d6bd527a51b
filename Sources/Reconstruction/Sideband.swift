import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

/// Position of the +1 order in the hologram's spectrum, in frequency bins (sub-pixel).
///
/// `kx` is the column frequency (0…W/2 in the half spectrum of a real FFT), `ky` the row
/// frequency (−H/2…H/2). The object term sits there; its twin (the −1 order) at (−ky, −kx).
public struct Sideband: Sendable, Equatable {
    public var ky: Double
    public var kx: Double

    public init(ky: Double, kx: Double) {
        self.ky = ky
        self.kx = kx
    }

    /// Distance to the spectrum's centre in cycles per pixel, for a `rows × cols` hologram.
    public func distance(rows: Int, cols: Int) -> Double {
        let fy = ky / Double(rows), fx = kx / Double(cols)
        return (fy * fy + fx * fx).squareRoot()
    }
}

extension Sideband {
    /// Finds the sideband in `hologram` (cell-free, or at least with visible fringes): its full
    /// half spectrum (one real 2-D FFT), searched by ``locate(spectrum:rows:cols:)``.
    static func locate(in hologram: HologramImage) throws -> Sideband {
        let rows = hologram.rows, cols = hologram.cols
        let half = cols / 2 + 1
        let input = AlignedBuffer<Float>(count: rows * cols, initial: 0)
        hologram.convert(into: input.pointer)
        let spectrum = AlignedBuffer<fftwf_complex>(count: rows * half, initial: (0, 0))
        let full = FFTWPlanner.plan(kind: "r2c2d-estimate", dims: [rows, cols]) {
            let i = AlignedBuffer<Float>(count: rows * cols, initial: 0)
            let o = AlignedBuffer<fftwf_complex>(count: rows * half, initial: (0, 0))
            return fftwf_plan_dft_r2c_2d(Int32(rows), Int32(cols), i.pointer, o.pointer, UInt32(FFTW_ESTIMATE))
        }
        fftwf_execute_dft_r2c(full.raw, input.pointer, spectrum.pointer)
        let bins = (0..<(rows * half)).map { SIMD2(spectrum[$0].0, spectrum[$0].1) }
        return try locate(spectrum: bins, rows: rows, cols: cols)
    }

    /// Finds the sideband in the half spectrum `spectrum` (rows × (cols/2+1) complex bins,
    /// row-major) of a cell-free reference hologram: the strongest bin away from the central band
    /// and the axes (qpretrieve's `find_peak_cosine` heuristic, restricted to kx ≥ 0 where the
    /// real FFT stores it), refined to sub-pixel precision along each axis by Candan's estimator
    /// for a sinusoid in a DFT (IEEE Signal Process. Lett. 18, 351, 2011):
    /// δ = Re[(X₋₁ − X₊₁) / (2X₀ − X₋₁ − X₊₁)].
    static func locate(spectrum: [SIMD2<Float>], rows: Int, cols: Int) throws -> Sideband {
        let half = cols / 2 + 1
        precondition(spectrum.count == rows * half)
        let magnitude = spectrum.map { ($0 * $0).sum().squareRoot() }
        // The central band (|I_obj|² + |R|² and the illumination envelope) fills low
        // frequencies; qpretrieve excludes max(N/42, 5) bins, so do we, and ±3 bins around the axes.
        let exclude = Double(max(Int((Double(max(rows, cols)) / 42).rounded(.up)), 5))
        var best: Float = -1
        var at = (0, 0)
        for r in 0..<rows {
            let ky = r <= rows / 2 ? r : r - rows
            if abs(ky) < 3 { continue }
            for c in 3..<half {
                let fy = Double(ky) / Double(rows) * Double(max(rows, cols))
                let fx = Double(c) / Double(cols) * Double(max(rows, cols))
                if fy * fy + fx * fx < exclude * exclude { continue }
                let m = magnitude[r * half + c]
                if m > best { best = m; at = (r, c) }
            }
        }
        guard best > 0 else {
            throw ReconstructionError("no sideband found: the reference spectrum has no peak away from its centre (is it an off-axis hologram?)")
        }
        let (r, c) = at
        func bin(_ r: Int, _ c: Int) -> SIMD2<Double> {
            let v = spectrum[((r % rows) + rows) % rows * half + c]
            return SIMD2(Double(v.x), Double(v.y))
        }
        func candan(_ before: SIMD2<Double>, _ peak: SIMD2<Double>, _ after: SIMD2<Double>) -> Double {
            let n = before - after, d = 2 * peak - before - after
            let d2 = (d * d).sum()
            guard d2 > 0 else { return 0 }
            // Re(n / d) = (n · d) / |d|².
            return min(max((n * d).sum() / d2, -0.5), 0.5)
        }
        let dy = candan(bin(r - 1, c), bin(r, c), bin(r + 1, c))
        let dx = c > 0 && c + 1 < half ? candan(bin(r, c - 1), bin(r, c), bin(r, c + 1)) : 0
        let ky = Double(r <= rows / 2 ? r : r - rows) + dy
        let sideband = Sideband(ky: ky, kx: Double(c) + dx)
        // A real hologram's peak stands far above the floor; a flat or noise-only image does not.
        let sorted = magnitude.sorted()
        let median = sorted[sorted.count / 2]
        guard best > 20 * max(median, 1e-30) else {
            throw ReconstructionError(
                "no clear sideband: the strongest off-centre peak is only \(Int(best / max(median, 1e-30)))× the median of the spectrum (expected ≫ 20×); is this an off-axis hologram with visible fringes?")
        }
        return sideband
    }
}
