import Foundation

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
    /// Finds the sideband in the half spectrum `magnitude` (rows × (cols/2+1), row-major) of a
    /// cell-free reference hologram: the strongest bin away from the central band and the axes
    /// (qpretrieve's `find_peak_cosine` heuristic, restricted to kx ≥ 0 where the real FFT
    /// stores it), refined to sub-pixel precision by a parabola through the log-magnitudes of the
    /// peak and its neighbours along each axis (Gaussian peak interpolation).
    public static func locate(magnitude: [Float], rows: Int, cols: Int) throws -> Sideband {
        let half = cols / 2 + 1
        precondition(magnitude.count == rows * half)
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
        func logMag(_ r: Int, _ c: Int) -> Double {
            Double(log(max(magnitude[((r % rows) + rows) % rows * half + c], 1e-30)))
        }
        func vertex(_ a: Double, _ b: Double, _ d: Double) -> Double {
            let denominator = a - 2 * b + d
            return denominator < 0 ? min(max(0.5 * (a - d) / denominator, -0.5), 0.5) : 0
        }
        let dy = vertex(logMag(r - 1, c), logMag(r, c), logMag(r + 1, c))
        let dx = c > 0 && c + 1 < half ? vertex(logMag(r, c - 1), logMag(r, c), logMag(r, c + 1)) : 0
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
