import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

extension HologramCamera {
    /// Noise-free intensity for the object wave O = 1 + S (`scattered`: S, the sum of every
    /// cell's scattered field, row-major `width × height`) with the reference arm's effects
    /// (``ReferenceArm``) `secondsSinceReference` s after the reference hologram was recorded:
    ///
    /// I = E_τ·(|O|² + |D|² + 2V·Re(O·conj(D)·e^{iψ_τ}) + 2V·ε·cos(2π k_p·r + θ_τ)).
    ///
    /// With an ideal arm and S = 0 this is the ideal `formIntensity` of an empty frame (up to
    /// rounding).
    public func formIntensity(scattered: [SIMD2<Float>], secondsSinceReference tau: Double) -> [Float] {
        precondition(scattered.count == width * height)
        let arm = optics.referenceArm
        let v = Float(optics.fringeVisibility)
        let brightness = arm.illuminationDrift * sin(2 * .pi * tau / arm.illuminationPeriodSeconds)
        let gradient = arm.illuminationDrift * sin(2 * .pi * tau / (1.7 * arm.illuminationPeriodSeconds))
        // Peak-to-valley over the field: (u + v)/4 and (u² + v²)/2 − ½ both span 1.
        let tilt = arm.tiltRadPerMinute * tau / 60, focus = arm.focusRadPerMinute * tau / 60
        let parasitic = Float(2 * arm.parasiticAmplitude * optics.fringeVisibility)
        let kp = arm.parasiticOffset - optics.carrier
        // Both drifts and the reflection's fringes are products of a column and a row factor:
        // e^{i(tilt·(u+v)/4 + focus·((u²+v²)/2 − ½))} = X(u)·Y(v), e^{i(2π k_p·r + θ)} = P(x)·Q(y).
        func phasor(_ angle: Double) -> SIMD2<Float> { SIMD2(Float(cos(angle)), Float(sin(angle))) }
        func times(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> SIMD2<Float> { SIMD2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x) }
        let columns = (0..<width).map { x -> (drift: SIMD2<Float>, fringe: SIMD2<Float>, u: Float) in
            let u = 2 * Double(x) / Double(width - 1) - 1
            return (phasor(tilt * u / 4 + focus * (u * u / 2 - 0.5)), phasor(2 * .pi * kp.x * Double(x)), Float(u))
        }
        let rows = (0..<height).map { y -> (drift: SIMD2<Float>, fringe: SIMD2<Float>) in
            let v = 2 * Double(y) / Double(height - 1) - 1
            return (phasor(tilt * v / 4 + focus * v * v / 2), phasor(2 * .pi * kp.y * Double(y) + arm.parasiticPhaseRadPerSecond * tau))
        }
        var out = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = rows[y]
            for x in 0..<width {
                let i = y * width + x
                let column = columns[x]
                let o = scattered[i] + SIMD2(1, 0)
                let d = dust?[i] ?? SIMD2(1, 0)
                // e^{iψ_τ}: the background's phasor (or its angle's) turned by the drift.
                let background = backgroundPhasor?[i] ?? SIMD2(cosf(backgroundPhase[i]), sinf(backgroundPhase[i]))
                let e = times(background, times(column.drift, row.drift))
                // O·conj(D), then Re(· e^{iψ_τ}).
                let re = o.x * d.x + o.y * d.y, im = o.y * d.x - o.x * d.y
                let reflection = parasitic == 0 ? 0 : parasitic * times(column.fringe, row.fringe).x
                let envelope = illumination[i] * (1 + Float(brightness) + Float(gradient) * column.u)
                out[i] = envelope * ((o * o).sum() + (d * d).sum() + 2 * v * (re * e.x - im * e.y) + reflection)
            }
        }
        return out
    }

    /// The dust of the reference arm: D(r) = 1 + Σ propagate(Dⱼ − 1, zⱼ), each speck a disk of
    /// radius 2–6 µm with amplitude transmission 0.5–0.9 and a 0–0.6 rad phase, 50–300 µm out of
    /// focus (in air, in sample-plane units), so that it shows as a set of diffraction rings.
    static func dust(width: Int, height: Int, optics: RigOptics, seed: UInt64) -> [SIMD2<Float>] {
        var rng = SimulationRandom(seed: seed, stream: 0xD057)
        var total = [SIMD2<Float>](repeating: SIMD2(1, 0), count: width * height)
        let pixel = optics.pixelUm
        for _ in 0..<optics.referenceArm.dustSpecks {
            let cx = rng.uniform(0, Double(width)), cy = rng.uniform(0, Double(height))
            let radius = rng.uniform(2, 6) / pixel
            let transmission = rng.uniform(0.5, 0.9), phase = rng.uniform(0, 0.6)
            let distance = rng.uniform(50, 300)
            let speck = AlignedBuffer<fftwf_complex>(count: width * height, initial: (0, 0))
            let inside = (Float(transmission * cos(phase) - 1), Float(transmission * sin(phase)))
            for y in max(0, Int(cy - radius))..<min(height, Int(cy + radius) + 1) {
                for x in max(0, Int(cx - radius))..<min(width, Int(cx + radius) + 1) {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    if dx * dx + dy * dy <= radius * radius { speck[y * width + x] = inside }
                }
            }
            AngularSpectrum(rows: height, cols: width, pixelUm: (pixel, pixel), mediumIndex: 1, wavelengthNm: optics.wavelengthNm)
                .propagate(speck.pointer, distanceUm: distance)
            for i in total.indices { total[i] += SIMD2(speck[i].0, speck[i].1) }
        }
        return total
    }
}
