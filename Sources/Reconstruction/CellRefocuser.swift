import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

/// Step 6a of the off-axis pipeline: each cell region brought into focus.
///
/// Cells cross the field at different depths of a channel tens of µm deep, so most are out of
/// focus; a hologram records the complex field, which can be propagated to any plane. For each
/// candidate region, the field U = A·exp(iφ) (A = |E|/|E_ref|, φ the levelled phase) in a square
/// window around the region, large enough that the blur of a cell `range` µm out of focus stays
/// inside, is propagated by the angular-spectrum method (``AngularSpectrum``). The distance d
/// that minimises the focus metric is the cell's focus distance (nrefocus's convention: the
/// recorded field propagated by d is in focus), and the region's phase is replaced by the
/// refocused one before it is unwrapped, measured and cropped.
///
/// Focus metric: the mean squared gradient of the amplitude |U_d| over the region (nrefocus's
/// "average gradient"). A transparent cell is a phase object, whose amplitude is flattest in
/// focus and shows diffraction fringes out of it (Langehanenberg et al. 2008, Appl. Opt.
/// 47:D176; Dubois et al. 2006, Opt. Express 14:5895).
///
/// Search: the metric on a grid of ``gridStepUm`` over [−range, +range] and golden-section search
/// between the best grid point's neighbours down to ``toleranceUm``, both on the field low-passed
/// to half its band (a quarter of the work per distance); then, on the whole band, the vertex of
/// the parabola through three distances ``fineStepUm`` apart around the smallest. A minimum at an end
/// of the range is not a focus (the cell lies further out, or the region is no cell): the region
/// keeps its recorded field and the cell is flagged.
///
/// With a hint (the focus the same cell had a frame or two before: cells keep their depth in
/// laminar flow), there is no coarse search: the whole band's parabola is walked to from the
/// hint, in a window that only holds the blur of |hint| + ``hintReachUm``. If the walk has not
/// bracketed a minimum within ``hintReachUm`` of the hint, the focus is not near it (another
/// cell, or a wrong prediction) and the full search runs.
struct CellRefocuser: Sendable {
    /// Search range, µm: d ∈ [−rangeUm, +rangeUm].
    let rangeUm: Double
    let mediumIndex: Double
    let wavelengthNm: Double
    /// Field-grid pixel, µm (x, y).
    let pixelUm: (x: Double, y: Double)
    /// Field-grid pixels a cell's blur reaches beyond the cell per µm out of focus: the tangent
    /// of the steepest angle the field grid carries (its Nyquist frequency 1/(2·pixel), in the
    /// medium) over the pixel.
    let spreadPerUm: Double

    /// Spacing of the coarse search, µm: about the depth of field λ/(n·NA²) of half the field
    /// grid's band, on which it runs, so that the metric's minimum is always bracketed.
    static let gridStepUm = 1.5
    /// Golden-section search on the half band stops when the bracket is this narrow, µm.
    static let toleranceUm = 0.05
    /// Spacing of the three distances the whole band's parabola goes through, µm.
    static let fineStepUm = 0.4
    /// How far from a hint its search walks, µm; its window holds the blur of |hint| plus this.
    static let hintReachUm = 2.0

    init(rangeUm: Double, mediumIndex: Double, wavelengthNm: Double, pixelUm: (x: Double, y: Double)) {
        self.rangeUm = rangeUm
        self.mediumIndex = mediumIndex
        self.wavelengthNm = wavelengthNm
        self.pixelUm = pixelUm
        let finest = min(pixelUm.x, pixelUm.y)
        let sine = min(0.95, wavelengthNm / 1000 / (2 * finest * mediumIndex))
        spreadPerUm = sine / (1 - sine * sine).squareRoot() / finest
    }

    /// What refocusing one region found.
    enum Outcome {
        /// In focus after propagating by this distance, µm.
        case refocused(distanceUm: Double)
        /// No focus within the range (or the region is too large to refocus): the region keeps
        /// its recorded field.
        case failed

        var distanceUm: Double? {
            if case .refocused(let d) = self { d } else { nil }
        }
    }

    /// Refocuses `region` of `w.opd` (levelled, wrapped phase in nm; the amplitude in
    /// `w.amplitude`): on success the region holds the refocused wrapped phase, in nm. `hint`:
    /// where the cell's focus was in an earlier frame, µm (see the type's doc).
    func refocus(
        _ r: CellSegmenter.Region, fieldRows: Int, fieldCols: Int, workspace w: ReconstructionWorkspace, hint: Double? = nil
    ) -> Outcome {
        if let hint, abs(hint) + Self.hintReachUm < rangeUm,
            let outcome = search(r, fieldRows: fieldRows, fieldCols: fieldCols, workspace: w, hint: hint)
        {
            return outcome
        }
        return search(r, fieldRows: fieldRows, fieldCols: fieldCols, workspace: w, hint: nil) ?? .failed
    }

    /// The search from `hint`, or over the whole range without one; `nil` when the walk from the
    /// hint brackets no minimum (the caller then searches the whole range).
    private func search(
        _ r: CellSegmenter.Region, fieldRows: Int, fieldCols: Int, workspace w: ReconstructionWorkspace, hint: Double?
    ) -> Outcome? {
        let reachUm = hint.map { abs($0) + Self.hintReachUm } ?? rangeUm
        let needed = max(r.width, r.height) + 2 * Int((reachUm * spreadPerUm).rounded(.up))
        guard let size = Self.windowSizes.first(where: { $0 >= needed }) else { return .failed }
        let window = w.refocusWindow(size: size, coarse: false) {
            AngularSpectrum(rows: size, cols: size, pixelUm: pixelUm, mediumIndex: mediumIndex, wavelengthNm: wavelengthNm)
        }
        let ox = (r.x0 + r.x1) / 2 - size / 2, oy = (r.y0 + r.y1) / 2 - size / 2
        let radiansPerNm = Float(2 * Double.pi / wavelengthNm)
        let opd = w.opd.pointer, amplitude = w.amplitude.pointer
        @inline(__always) func recorded(_ x: Int, _ y: Int) -> (Float, Float) {
            let i = y * fieldCols + x
            let phase = opd[i] * radiansPerNm
            let (sine, cosine) = AngularSpectrum.sinCos(phase)
            return (amplitude[i] * cosine, amplitude[i] * sine)
        }
        // The background b: the mean field on the region's border (background by construction).
        var bRe: Float = 0, bIm: Float = 0, borderCount: Float = 0
        for y in r.y0..<r.y1 {
            for x in r.x0..<r.x1 where y == r.y0 || y == r.y1 - 1 || x == r.x0 || x == r.x1 - 1 {
                let (re, im) = recorded(x, y)
                bRe += re
                bIm += im
                borderCount += 1
            }
        }
        bRe /= borderCount
        bIm /= borderCount
        // U − b, zero outside the frame: the window's edges carry no field that would wrap around.
        let spectrum = window.spectrum.pointer
        for wy in 0..<size {
            let y = oy + wy
            for wx in 0..<size {
                let x = ox + wx
                if x >= 0, y >= 0, x < fieldCols, y < fieldRows {
                    let (re, im) = recorded(x, y)
                    spectrum[wy * size + wx] = (re - bRe, im - bIm)
                } else {
                    spectrum[wy * size + wx] = (0, 0)
                }
            }
        }
        window.propagator.transform(spectrum)
        let roi = (x0: r.x0 - ox, y0: r.y0 - oy, x1: r.x1 - ox, y1: r.y1 - oy)
        func metric(_ d: Double) -> Double {
            window.propagator.field(ofSpectrum: spectrum, distanceUm: d, into: window.field.pointer)
            return averageGradient(
                window.field.pointer, size: size, roi: roi, pixelUm: pixelUm, background: (bRe, bIm),
                scratch: window.amplitude.pointer)
        }

        // Coarse (without a hint): the grid over the whole range and golden-section search
        // around its smallest value, on the half band; nil when the smallest is at an end.
        func coarseEstimate() -> Double? {
            // The central half of the spectrum: the field low-passed to half its band on a grid
            // of twice the pixel (a quarter of the work per distance, and a metric minimum a few
            // µm wide, which the grid brackets).
            let half = size / 2
            let coarse = w.refocusWindow(size: half, coarse: true) {
                AngularSpectrum(
                    rows: half, cols: half, pixelUm: (2 * pixelUm.x, 2 * pixelUm.y), mediumIndex: mediumIndex,
                    wavelengthNm: wavelengthNm)
            }
            let low = coarse.spectrum.pointer
            for v in 0..<half {
                let y = v < half / 2 ? v : v + size - half
                for u in 0..<half {
                    let x = u < half / 2 ? u : u + size - half
                    let (re, im) = spectrum[y * size + x]
                    low[v * half + u] = (re / 4, im / 4)  // the inverse of a quarter of the points
                }
            }
            let coarseROI = (x0: roi.x0 / 2, y0: roi.y0 / 2, x1: max(roi.x0 / 2 + 3, roi.x1 / 2), y1: max(roi.y0 / 2 + 3, roi.y1 / 2))
            let coarsePixel = (x: 2 * pixelUm.x, y: 2 * pixelUm.y)
            let steps = Int((rangeUm / Self.gridStepUm).rounded(.up))
            let grid = (-steps...steps).map { Double($0) * rangeUm / Double(steps) }
            func coarseMetric(_ d: Double) -> Double {
                coarse.propagator.field(ofSpectrum: low, distanceUm: d, into: coarse.field.pointer)
                return averageGradient(
                    coarse.field.pointer, size: half, roi: coarseROI, pixelUm: coarsePixel, background: (bRe, bIm),
                    scratch: coarse.amplitude.pointer)
            }
            let values = grid.map(coarseMetric)
            guard let best = values.indices.min(by: { values[$0] < values[$1] }), values[best].isFinite,
                best > 0, best < grid.count - 1
            else { return nil }
            return Self.goldenSection(grid[best - 1], grid[best + 1], tolerance: Self.toleranceUm, coarseMetric)
        }
        guard let estimate = hint ?? coarseEstimate() else { return .failed }

        // Fine: on the whole band, the parabola through three distances ``fineStepUm`` apart
        // around the smallest (the half band's minimum may sit a fraction of a µm off), walked
        // to from the estimate; from a hint up to ``hintReachUm``, and a focus not bracketed
        // by then is not near the hint.
        let h = Self.fineStepUm
        var centre = estimate
        var (left, middle, right) = (metric(centre - h), metric(centre), metric(centre + h))
        let walk = hint == nil ? 4 : Int((Self.hintReachUm / h).rounded())
        for _ in 0..<walk where !(middle <= left && middle <= right) {
            if left < right {
                centre -= h
                (middle, right) = (left, middle)
                left = metric(centre - h)
            } else {
                centre += h
                (left, middle) = (middle, right)
                right = metric(centre + h)
            }
        }
        if hint != nil && !(middle <= left && middle <= right) { return nil }
        let curvature = left - 2 * middle + right
        let focus = centre + (curvature > 0 ? max(-h, min(h, h * (left - right) / (2 * curvature))) : 0)
        guard abs(focus) < rangeUm else { return .failed }

        // The region's phase from the field in focus.
        window.propagator.field(ofSpectrum: spectrum, distanceUm: focus, into: window.field.pointer)
        let field = window.field.pointer
        let nmPerRadian = 1 / radiansPerNm
        for y in r.y0..<r.y1 {
            for x in r.x0..<r.x1 {
                let (re, im) = field[(y - oy) * size + x - ox]
                opd[y * fieldCols + x] = FastMath.atan2(im + bIm, re + bRe) * nmPerRadian
            }
        }
        return .refocused(distanceUm: focus)
    }

    /// Mean squared gradient (central differences, per µm) of |U + b| over the interior of `roi`.
    private func averageGradient(
        _ u: UnsafePointer<fftwf_complex>, size: Int, roi: (x0: Int, y0: Int, x1: Int, y1: Int),
        pixelUm: (x: Double, y: Double), background b: (Float, Float), scratch: UnsafeMutablePointer<Float>
    ) -> Double {
        for y in roi.y0..<roi.y1 {
            for x in roi.x0..<roi.x1 {
                let (re, im) = u[y * size + x]
                let a = re + b.0, c = im + b.1
                scratch[y * size + x] = (a * a + c * c).squareRoot()
            }
        }
        let hx = Float(1 / (2 * pixelUm.x)), hy = Float(1 / (2 * pixelUm.y))
        var sum: Double = 0
        for y in (roi.y0 + 1)..<(roi.y1 - 1) {
            var row: Float = 0
            for x in (roi.x0 + 1)..<(roi.x1 - 1) {
                let gx = (scratch[y * size + x + 1] - scratch[y * size + x - 1]) * hx
                let gy = (scratch[(y + 1) * size + x] - scratch[(y - 1) * size + x]) * hy
                row += gx * gx + gy * gy
            }
            sum += Double(row)
        }
        return sum / Double(max(1, (roi.x1 - roi.x0 - 2) * (roi.y1 - roi.y0 - 2)))
    }

    /// The minimum of `f` between `lo` and `hi` (unimodal there), within `tolerance`.
    static func goldenSection(_ lo: Double, _ hi: Double, tolerance: Double, _ f: (Double) -> Double) -> Double {
        var (lo, hi) = (lo, hi)
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = hi - ratio * (hi - lo), d = lo + ratio * (hi - lo)
        var fc = f(c), fd = f(d)
        while hi - lo > tolerance {
            if fc < fd {
                (hi, d, fd) = (d, c, fc)
                c = hi - ratio * (hi - lo)
                fc = f(c)
            } else {
                (lo, c, fc) = (c, d, fd)
                d = lo + ratio * (hi - lo)
                fd = f(d)
            }
        }
        return (lo + hi) / 2
    }

    /// Window sizes (products of 2, 3 and 5: fast FFT sizes), field-grid pixels.
    static let windowSizes = [32, 40, 48, 64, 80, 96, 120, 128, 160, 192, 240, 256, 320, 384, 480, 512]
}

/// One window size's propagator and scratch, kept by a worker's workspace.
final class RefocusWindow {
    let propagator: AngularSpectrum
    /// F{U − b} of the window.
    let spectrum: AlignedBuffer<fftwf_complex>
    /// The field propagated to the distance under test.
    let field: AlignedBuffer<fftwf_complex>
    /// Its amplitude over the region.
    let amplitude: AlignedBuffer<Float>

    init(_ propagator: AngularSpectrum) {
        self.propagator = propagator
        let n = propagator.rows * propagator.cols
        spectrum = AlignedBuffer(count: n, initial: (0, 0))
        field = AlignedBuffer(count: n, initial: (0, 0))
        amplitude = AlignedBuffer(count: n, initial: 0)
    }
}
