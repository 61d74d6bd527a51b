import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

/// Free-space propagation of a complex field sampled on `rows × cols` pixels over a distance d
/// through a homogeneous medium of index n, by the angular-spectrum method (Goodman,
/// *Introduction to Fourier Optics*, 3rd ed., §3.10):
///
///   U(d) = F⁻¹{ F{U(0)}(f) · exp(i·2π·d·√((n/λ)² − |f|²)) },
///
/// with evanescent components (|f| > n/λ) decaying as exp(−2π·|d|·√(|f|² − (n/λ)²)). The same
/// kernel (and sign) as nrefocus: a field recorded d µm before its focus is brought back into
/// focus by propagating it by +d. The field is periodic over the grid: pad it so that the
/// diffraction spread stays inside.
struct AngularSpectrum: Sendable {
    let rows: Int
    let cols: Int
    /// The transfer function divided by rows·cols (FFTW's inverse is unnormalised).
    private let transfer: [SIMD2<Float>]

    init(rows: Int, cols: Int, pixelUm: Double, wavelengthNm: Double, mediumIndex: Double, distanceUm: Double) {
        (self.rows, self.cols) = (rows, cols)
        let nk = mediumIndex / (wavelengthNm / 1000)
        let scale = 1 / Double(rows * cols)
        var transfer = [SIMD2<Float>](repeating: .zero, count: rows * cols)
        for y in 0..<rows {
            let fy = Double(y <= rows / 2 ? y : y - rows) / (Double(rows) * pixelUm)
            for x in 0..<cols {
                let fx = Double(x <= cols / 2 ? x : x - cols) / (Double(cols) * pixelUm)
                let q = nk * nk - fx * fx - fy * fy
                // Propagating components turn by 2π·d·√q; evanescent ones decay.
                let (c, s, damp) = q > 0 ? (cos(2 * .pi * distanceUm * q.squareRoot()), sin(2 * .pi * distanceUm * q.squareRoot()), 1.0)
                    : (1.0, 0.0, exp(-2 * .pi * abs(distanceUm) * (-q).squareRoot()))
                transfer[y * cols + x] = SIMD2(Float(c * damp * scale), Float(s * damp * scale))
            }
        }
        self.transfer = transfer
    }

    /// Propagates `field` (row-major `rows × cols`) in place.
    func propagate(_ field: AlignedBuffer<fftwf_complex>) {
        precondition(field.count == rows * cols)
        let forward = FFTWPlanner.complex2D(rows: rows, cols: cols, direction: FFTW_FORWARD)
        let backward = FFTWPlanner.complex2D(rows: rows, cols: cols, direction: FFTW_BACKWARD)
        fftwf_execute_dft(forward.raw, field.pointer, field.pointer)
        for i in 0..<transfer.count {
            let (re, im) = field[i]
            let h = transfer[i]
            field[i] = (re * h.x - im * h.y, re * h.y + im * h.x)
        }
        fftwf_execute_dft(backward.raw, field.pointer, field.pointer)
    }
}
