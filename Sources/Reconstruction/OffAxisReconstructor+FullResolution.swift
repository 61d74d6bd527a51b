import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

extension OffAxisReconstructor {
    /// The OPD map of `hologram`, the last one `process`ed with `workspace`, on the hologram's
    /// own pixel grid, nm.
    ///
    /// The field is filtered again at full size, on a zero-padded grid as qpretrieve does
    /// (``SidebandFilter/paddedField(of:)``), divided by the reference field made the same way,
    /// given the frame's phase sign, levelled with its background plane, refocused where
    /// the field-grid pass refocused (each region by its own distance, ``CellRefocuser``),
    /// unwrapped with the field-grid OPD as a guide, and levelled per cell region as that pass
    /// was: φ = φ_wrapped + 2π·round((φ_guide −
    /// φ_wrapped)/2π), exact wherever the bilinearly interpolated guide is within π of the
    /// truth. Costs four FFTs of the padded grid (and one propagation per refocused cell), so
    /// it is for `flowd reconstruct`, not for the live path.
    public func fullResolutionOPD(of hologram: HologramImage, workspace w: ReconstructionWorkspace) -> [Float] {
        let n = rows * cols
        let object = filter.paddedField(of: hologram)
        let reference = reference.map(filter.paddedField(of:))
        let sign: Float = w.phaseSign == .inverted ? -1 : 1
        let (decX, decY) = decimation
        // The levelled field U = A·exp(iφ), A = |E|/|E_ref|, as (amplitude, phase) per pixel.
        var amplitude = [Float](repeating: 1, count: n)
        var phase = [Float](repeating: 0, count: n)
        for y in 0..<rows {
            for x in 0..<cols {
                let i = y * cols + x
                var (a, b) = object[i]
                if let reference {
                    let (re, im) = reference[i]
                    let power = max(re * re + im * im, .leastNormalMagnitude)
                    (a, b) = ((a * re + b * im) / power, (b * re - a * im) / power)
                }
                amplitude[i] = (a * a + b * b).squareRoot()
                phase[i] = FastMath.wrap(
                    sign * atan2f(b, a) - w.plane.value(x: Float(Double(x) / decX), y: Float(Double(y) / decY)))
            }
        }
        for (region, distance) in w.refocused {
            refocus(
                x0: Int(Double(region.x0) * decX), y0: Int(Double(region.y0) * decY),
                x1: min(cols, Int((Double(region.x1) * decX).rounded(.up))), y1: min(rows, Int((Double(region.y1) * decY).rounded(.up))),
                by: distance, amplitude: amplitude, phase: &phase)
        }
        let nmPerRadian = Float(parameters.wavelengthNm / (2 * Double.pi))
        let period = Float(parameters.wavelengthNm)
        let guide = w.opd.pointer
        var out = [Float](repeating: 0, count: n)
        for y in 0..<rows {
            let fy = Double(y) / decY
            let y0 = min(Int(fy), fieldRows - 1), y1 = min(y0 + 1, fieldRows - 1), ty = Float(fy - Double(y0))
            for x in 0..<cols {
                let fx = Double(x) / decX
                let x0 = min(Int(fx), fieldCols - 1), x1 = min(x0 + 1, fieldCols - 1), tx = Float(fx - Double(x0))
                let g = (guide[y0 * fieldCols + x0] * (1 - tx) + guide[y0 * fieldCols + x1] * tx) * (1 - ty)
                    + (guide[y1 * fieldCols + x0] * (1 - tx) + guide[y1 * fieldCols + x1] * tx) * ty
                let wrapped = phase[y * cols + x] * nmPerRadian
                out[y * cols + x] = wrapped + period * ((g - wrapped) / period).rounded()
            }
        }
        // Each cell region's own background level, as on the field grid: its whole turns are
        // already in the guide the turns were taken from, the fraction of a turn is not.
        for (region, level) in w.regionOffsets {
            let offset = level - period * (level / period).rounded()
            for y in Int(Double(region.y0) * decY)..<min(rows, Int((Double(region.y1) * decY).rounded(.up))) {
                for x in Int(Double(region.x0) * decX)..<min(cols, Int((Double(region.x1) * decX).rounded(.up))) {
                    out[y * cols + x] -= offset
                }
            }
        }
        return out
    }

    /// Replaces the wrapped phase of [x0, x1) × [y0, y1) (hologram pixels) by that of the field
    /// propagated by `distance` µm, in a window that holds the blur of the whole search range.
    private func refocus(
        x0: Int, y0: Int, x1: Int, y1: Int, by distance: Double, amplitude: [Float], phase: inout [Float]
    ) {
        let spreadPerUm = segmenter.refocuser?.spreadPerUm ?? 0
        let spread = Int((parameters.refocusRangeUm * spreadPerUm * max(decimation.x, decimation.y)).rounded(.up))
        let size = (max(x1 - x0, y1 - y0) + 2 * spread + 63) / 64 * 64
        let ox = (x0 + x1) / 2 - size / 2, oy = (y0 + y1) / 2 - size / 2
        // Background b: the mean field on the region's border; U − b is zero outside the frame.
        var bRe: Float = 0, bIm: Float = 0, count: Float = 0
        for y in y0..<y1 {
            for x in x0..<x1 where y == y0 || y == y1 - 1 || x == x0 || x == x1 - 1 {
                let i = y * cols + x
                bRe += amplitude[i] * cosf(phase[i])
                bIm += amplitude[i] * sinf(phase[i])
                count += 1
            }
        }
        bRe /= count
        bIm /= count
        let window = AlignedBuffer<fftwf_complex>(count: size * size, initial: (0, 0))
        for wy in 0..<size where oy + wy >= 0 && oy + wy < rows {
            for wx in 0..<size where ox + wx >= 0 && ox + wx < cols {
                let i = (oy + wy) * cols + ox + wx
                window[wy * size + wx] = (amplitude[i] * cosf(phase[i]) - bRe, amplitude[i] * sinf(phase[i]) - bIm)
            }
        }
        AngularSpectrum(
            rows: size, cols: size, pixelUm: (parameters.pixelUm, parameters.pixelUm), mediumIndex: parameters.mediumIndex,
            wavelengthNm: parameters.wavelengthNm
        ).propagate(window.pointer, distanceUm: distance)
        for y in y0..<y1 {
            for x in x0..<x1 {
                let (re, im) = window[(y - oy) * size + x - ox]
                phase[y * cols + x] = atan2f(im + bIm, re + bRe)
            }
        }
    }
}
