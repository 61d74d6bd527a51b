import CFFTW
import Foundation
import SystemSupport

/// Free-space propagation of a complex field over a distance d along the optical axis, by the
/// angular-spectrum method (Goodman, *Introduction to Fourier Optics*, 3rd ed., §3.10):
///
///     U(x, y; d) = F⁻¹{ F{U}(fx, fy) · exp(i·2π·d·(√((n/λ)² − fx² − fy²) − n/λ)) }
///
/// with n the medium's refractive index and λ the vacuum wavelength. Components with
/// fx² + fy² ≥ (n/λ)² are evanescent and dropped. The −n/λ term removes the plane wave's own
/// phase, so the background keeps its phase at every d; it is nrefocus's "helmholtz" kernel
/// (exp(i·d·(√(kₘ² − kx² − ky²) − kₘ)) with k = 2π·f). Used by the twin to defocus cells and by
/// the daemon to refocus them, so both apply the same physics with the same sign: a positive d
/// propagates towards +z (away from the source).
public struct AngularSpectrum: Sendable {
    public let rows: Int
    public let cols: Int
    /// 2π·(√((n/λ)² − f²) − n/λ) per spectrum bin (FFTW's order), rad/µm; 0 where evanescent.
    private let phasePerUm: [Float]
    /// 1 for propagating bins, 0 for evanescent ones.
    private let passes: [Float]
    private let forward: FFTWPlanner.Plan
    private let backward: FFTWPlanner.Plan

    /// A propagator for `rows × cols` fields of `pixelUm` (x = columns, y = rows) in a medium
    /// of index `mediumIndex` at `wavelengthNm` (vacuum).
    public init(rows: Int, cols: Int, pixelUm: (x: Double, y: Double), mediumIndex: Double, wavelengthNm: Double) {
        self.rows = rows
        self.cols = cols
        let k = mediumIndex / (wavelengthNm / 1000)
        var phase = [Float](repeating: 0, count: rows * cols)
        var passes = [Float](repeating: 0, count: rows * cols)
        for y in 0..<rows {
            let fy = Double(y <= rows / 2 ? y : y - rows) / (Double(rows) * pixelUm.y)
            for x in 0..<cols {
                let fx = Double(x <= cols / 2 ? x : x - cols) / (Double(cols) * pixelUm.x)
                let q = k * k - fx * fx - fy * fy
                guard q > 0 else { continue }
                phase[y * cols + x] = Float(2 * Double.pi * (q.squareRoot() - k))
                passes[y * cols + x] = 1
            }
        }
        phasePerUm = phase
        self.passes = passes
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

    /// out = spectrum · exp(i·d·phasePerUm) · scale, evanescent bins zeroed.
    private func apply(
        distanceUm d: Double, to spectrum: UnsafePointer<fftwf_complex>, into out: UnsafeMutablePointer<fftwf_complex>,
        scale: Float
    ) {
        let distance = Float(d)
        phasePerUm.withUnsafeBufferPointer { phase in
            passes.withUnsafeBufferPointer { passes in
                for i in 0..<(rows * cols) {
                    let theta = distance * phase[i], gain = scale * passes[i]
                    let c = cosf(theta) * gain, s = sinf(theta) * gain
                    let (re, im) = spectrum[i]
                    out[i] = (re * c - im * s, re * s + im * c)
                }
            }
        }
    }
}
