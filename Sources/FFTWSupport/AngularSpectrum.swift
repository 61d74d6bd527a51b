import CFFTW
import Foundation
import SystemSupport

/// Free-space propagation of a complex field over a distance d along the optical axis, by the
/// angular-spectrum method (Goodman, *Introduction to Fourier Optics*, 3rd ed., §3.10):
///
///     U(x, y; d) = F⁻¹{ F{U}(fx, fy) · exp(i·2π·d·(√((n/λ)² − fx² − fy²) − n/λ)) }
///
/// with n the medium's refractive index and λ the vacuum wavelength. Components with
/// fx² + fy² > (n/λ)² are evanescent: they decay as exp(−2π·|d|·√(f² − (n/λ)²)). The −n/λ term removes the plane wave's own
/// phase, so the background keeps its phase at every d; it is nrefocus's "helmholtz" kernel
/// (exp(i·d·(√(kₘ² − kx² − ky²) − kₘ)) with k = 2π·f). Used by the twin to defocus cells and by
/// the daemon to refocus them, so both apply the same physics with the same sign: a positive d
/// propagates towards +z (away from the source).
public struct AngularSpectrum: Sendable {
    public let rows: Int
    public let cols: Int
    /// 2π·(√((n/λ)² − f²) − n/λ) per spectrum bin (FFTW's order), rad/µm; 0 where evanescent.
    private let phasePerUm: [Float]
    /// 2π·√(f² − (n/λ)²) per bin, 1/µm: the decay of evanescent bins; 0 for propagating ones.
    private let decayPerUm: [Float]
    fileprivate let forward: FFTWPlanner.Plan
    fileprivate let backward: FFTWPlanner.Plan

    /// A propagator for `rows × cols` fields of `pixelUm` (x = columns, y = rows) in a medium
    /// of index `mediumIndex` at `wavelengthNm` (vacuum).
    public init(rows: Int, cols: Int, pixelUm: (x: Double, y: Double), mediumIndex: Double, wavelengthNm: Double) {
        self.rows = rows
        self.cols = cols
        let k = mediumIndex / (wavelengthNm / 1000)
        var phase = [Float](repeating: 0, count: rows * cols)
        var decay = [Float](repeating: 0, count: rows * cols)
        for y in 0..<rows {
            let fy = Double(y <= rows / 2 ? y : y - rows) / (Double(rows) * pixelUm.y)
            for x in 0..<cols {
                let fx = Double(x <= cols / 2 ? x : x - cols) / (Double(cols) * pixelUm.x)
                let q = k * k - fx * fx - fy * fy
                if q >= 0 {
                    phase[y * cols + x] = Float(2 * Double.pi * (q.squareRoot() - k))
                } else {
                    decay[y * cols + x] = Float(2 * Double.pi * (-q).squareRoot())
                }
            }
        }
        phasePerUm = phase
        decayPerUm = decay
        forward = FFTWPlanner.complex2D(rows: rows, cols: cols, direction: FFTW_FORWARD)
        backward = FFTWPlanner.complex2D(rows: rows, cols: cols, direction: FFTW_BACKWARD)
    }

    /// Propagates `field` (`rows × cols`, in place, 64-byte aligned) by `distanceUm`.
    public func propagate(_ field: UnsafeMutablePointer<fftwf_complex>, distanceUm: Double) {
        fftwf_execute_dft(forward.raw, field, field)
        apply(distanceUm: distanceUm, to: field, into: field, scale: 1 / Float(rows * cols))
        fftwf_execute_dft(backward.raw, field, field)
    }

    /// Replaces `field` (`rows × cols`, aligned) by its forward FFT, for
    /// ``field(ofSpectrum:distanceUm:into:)`` (the plans are in place).
    public func transform(_ field: UnsafeMutablePointer<fftwf_complex>) {
        fftwf_execute_dft(forward.raw, field, field)
    }

    /// The field of `spectrum` (a ``transform(_:)``) propagated by `distanceUm`, into
    /// `field` (normalised: the inverse of the transform).
    public func field(
        ofSpectrum spectrum: UnsafePointer<fftwf_complex>, distanceUm: Double, into field: UnsafeMutablePointer<fftwf_complex>
    ) {
        apply(distanceUm: distanceUm, to: spectrum, into: field, scale: 1 / Float(rows * cols))
        fftwf_execute_dft(backward.raw, field, field)
    }

    /// sin x and cos x within 5e-6 (x reduced to [−π, π], then their Taylor series to x¹³ and
    /// x¹⁴: the next terms are below π¹⁵/15! ≈ 2e-5 and π¹⁶/16! ≈ 4e-6; a phase error of 2e-5
    /// rad is 0.002 nm of OPD). Several times faster than libm's, which dominated refocusing.
    @inlinable
    public static func sinCos(_ x: Float) -> (sin: Float, cos: Float) {
        let twoPi: Float = 2 * .pi
        let r = x - twoPi * (x / twoPi).rounded()
        let r2 = r * r
        var s: Float = 1.6059043836821613e-10  // 1/13!
        s = s * r2 - 2.505210838544172e-8  // −1/11!
        s = s * r2 + 2.7557319223985893e-6
        s = s * r2 - 1.984126984126984e-4
        s = s * r2 + 8.333333333333333e-3
        s = s * r2 - 0.16666666666666666
        s = (s * r2 + 1) * r
        var c: Float = -1.1470745597729725e-11  // −1/14!
        c = c * r2 + 2.08767569878681e-9
        c = c * r2 - 2.755731922398589e-7
        c = c * r2 + 2.48015873015873e-5
        c = c * r2 - 1.388888888888889e-3
        c = c * r2 + 4.1666666666666664e-2
        c = c * r2 - 0.5
        c = c * r2 + 1
        return (s, c)
    }

    /// out = spectrum · exp(i·d·phasePerUm − |d|·decayPerUm) · scale.
    private func apply(
        distanceUm d: Double, to spectrum: UnsafePointer<fftwf_complex>, into out: UnsafeMutablePointer<fftwf_complex>,
        scale: Float
    ) {
        let distance = Float(d), reach = Float(abs(d))
        phasePerUm.withUnsafeBufferPointer { phase in
            decayPerUm.withUnsafeBufferPointer { decay in
                for i in 0..<(rows * cols) {
                    let gain = decay[i] == 0 ? scale : scale * expf(-reach * decay[i])
                    let (sine, cosine) = Self.sinCos(distance * phase[i])
                    let c = cosine * gain, s = sine * gain
                    let (re, im) = spectrum[i]
                    out[i] = (re * c - im * s, re * s + im * c)
                }
            }
        }
    }
}

extension AngularSpectrum {
    /// The propagation by one distance, its transfer function computed once: for fields that
    /// are propagated by the same distance again and again (the twin's cells keep their depth).
    public struct Fixed: Sendable {
        public let grid: AngularSpectrum
        public let distanceUm: Double
        /// exp(i·d·phasePerUm − |d|·decayPerUm)/(rows·cols).
        private let transfer: [SIMD2<Float>]

        fileprivate init(grid: AngularSpectrum, distanceUm: Double, transfer: [SIMD2<Float>]) {
            (self.grid, self.distanceUm, self.transfer) = (grid, distanceUm, transfer)
        }

        /// Propagates `field` (`rows × cols`, in place, 64-byte aligned) by ``distanceUm``.
        public func propagate(_ field: UnsafeMutablePointer<fftwf_complex>) {
            fftwf_execute_dft(grid.forward.raw, field, field)
            transfer.withUnsafeBufferPointer { h in
                for i in 0..<h.count {
                    let (re, im) = field[i]
                    field[i] = (re * h[i].x - im * h[i].y, re * h[i].y + im * h[i].x)
                }
            }
            fftwf_execute_dft(grid.backward.raw, field, field)
        }
    }

    /// ``Fixed`` for `distanceUm`.
    public func fixed(distanceUm: Double) -> Fixed {
        let scale = 1 / Float(rows * cols)
        let transfer = (0..<(rows * cols)).map { i -> SIMD2<Float> in
            let theta = Float(distanceUm) * phasePerUm[i]
            return SIMD2(cosf(theta), sinf(theta)) * (scale * expf(-Float(abs(distanceUm)) * decayPerUm[i]))
        }
        return Fixed(grid: self, distanceUm: distanceUm, transfer: transfer)
    }
}
