import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

/// One cell's scattered wave Oᵢ − 1 (Oᵢ = t·e^{iφ}, t = exp(−κ·OPD), φ = 2π·OPD/λ, as in
/// ``HologramCamera``) on a square patch around its centre, as the camera records it: propagated
/// from the cell's plane to the focal plane. The frame's object wave is O = 1 + Σᵢ (Oᵢ − 1)
/// (the cells are far apart and weak, so their scattered waves add).
struct ScatteredField: Sendable {
    /// Side of the patch, pixels; the cell's centre is at pixel (`center`, `center`).
    let size: Int
    let center: Int
    /// Oᵢ − 1, row-major `size × size`.
    let values: [SIMD2<Float>]

    /// The scattered wave of `patch` propagated by `propagator` (whose grid is the padded patch;
    /// `nil`: in focus, no padding).
    init(patch: OPDPatch, optics: RigOptics, propagator: AngularSpectrum.Fixed?) {
        let k = 2 * Double.pi / optics.wavelengthNm
        let kappa = optics.attenuationPerUm / 1000
        let size = propagator?.grid.rows ?? patch.size
        let offset = (size - patch.size) / 2
        let field = AlignedBuffer<fftwf_complex>(count: size * size, initial: (0, 0))
        for py in 0..<patch.size {
            for px in 0..<patch.size {
                let opd = Double(patch.opdNm[py * patch.size + px])
                guard opd != 0 else { continue }
                let t = exp(-kappa * opd)
                field[(py + offset) * size + px + offset] = (Float(t * cos(k * opd) - 1), Float(t * sin(k * opd)))
            }
        }
        propagator?.propagate(field.pointer)
        self.size = size
        center = patch.center + offset
        values = (0..<size * size).map { SIMD2(field[$0].0, field[$0].1) }
    }

    /// Adds this wave to a `width × height` field with the cell's centre at pixel (x, y); the
    /// parts outside the frame are cut off.
    func add(to field: inout [SIMD2<Float>], width: Int, height: Int, x: Int, y: Int) {
        let x0 = x - center, y0 = y - center
        let ax = max(0, x0), bx = min(width, x0 + size)
        let ay = max(0, y0), by = min(height, y0 + size)
        guard ax < bx, ay < by else { return }
        for py in ay..<by {
            let src = (py - y0) * size - x0
            for px in ax..<bx { field[py * width + px] += values[src + px] }
        }
    }

    /// The grid for propagating a patch of `patchSize` pixels by `distanceUm`: padded by the
    /// diffraction spread |d|·tan(asin(NA/n)) (and 8 pixels) on each side, rounded up to a size
    /// FFTW transforms fast (2ᵃ3ᵇ5ᶜ). `nil` for a vanishing distance.
    static func propagator(patchSize: Int, distanceUm: Double, optics: RigOptics) -> AngularSpectrum.Fixed? {
        guard abs(distanceUm) > 1e-3 else { return nil }
        let sine = optics.numericalAperture / optics.mediumIndex
        let spread = abs(distanceUm) * sine / (1 - sine * sine).squareRoot() / optics.pixelUm
        let size = fastSize(atLeast: patchSize + 2 * (Int(spread.rounded(.up)) + 8))
        return AngularSpectrum(
            rows: size, cols: size, pixelUm: (optics.pixelUm, optics.pixelUm), mediumIndex: optics.mediumIndex,
            wavelengthNm: optics.wavelengthNm
        ).fixed(distanceUm: distanceUm)
    }

    /// The smallest 2ᵃ3ᵇ5ᶜ ≥ n.
    static func fastSize(atLeast n: Int) -> Int {
        var m = max(n, 1)
        while true {
            var r = m
            for p in [2, 3, 5] { while r % p == 0 { r /= p } }
            if r == 1 { return m }
            m += 1
        }
    }
}
