import CFFTW
import FFTWSupport
import Foundation
import Protocol
import SystemSupport

/// Forms off-axis holograms of OPD maps on a camera of `width × height` pixels.
///
/// With the object wave O = t·exp(iφ), t = exp(−κ·OPD), φ = 2π·OPD/λ, and the tilted reference
/// R = exp(i(2π k·r − a(r))) (a: the smooth aberration difference between the arms), the camera
/// records I = E(r)·(|O|² + 1 + 2V·Re(O·conj(R))) (`formIntensity`), with E the uneven
/// illumination and V the fringe visibility of the low-coherence source. Electrons are that
/// intensity scaled to `exposure` of full well, plus shot noise (Poisson, drawn as a normal of
/// variance n) and read noise, quantised to `bitDepth` bits.
public struct HologramCamera: Sendable {
    public let width: Int
    public let height: Int
    public let optics: RigOptics
    /// Background phase ψ(r) = a(r) − 2π k·r of every pixel, rad.
    private let backgroundPhase: [Float]
    /// Illumination envelope E(r), 1 at the centre.
    private let illumination: [Float]
    /// Electrons per unit of I: exposure · full well / max over the frame of E·(2 + 2V).
    private let electronsPerUnit: Float

    public init(width: Int, height: Int, optics: RigOptics, seed: UInt64) throws {
        if let problem = optics.validationError() { throw SimulationError(problem) }
        guard (16...8192).contains(width), (16...8192).contains(height) else {
            throw SimulationError("frame size \(width)×\(height) is outside 16–8192 pixels")
        }
        self.width = width
        self.height = height
        self.optics = optics
        var rng = SimulationRandom(seed: seed, stream: 0xAB)
        // Aberration: a random mix of tilt, defocus, astigmatism and coma over the unit disk
        // inscribed in the frame, scaled to the requested peak-to-valley.
        let coefficients = (0..<6).map { _ in rng.normal() }
        var aberration = [Double](repeating: 0, count: width * height)
        for y in 0..<height {
            let v = 2 * Double(y) / Double(height - 1) - 1
            for x in 0..<width {
                let u = 2 * Double(x) / Double(width - 1) - 1
                let r2 = u * u + v * v
                let terms = [u, v, 2 * r2 - 1, u * u - v * v, 2 * u * v, (3 * r2 - 2) * u]
                aberration[y * width + x] = zip(coefficients, terms).map(*).reduce(0, +)
            }
        }
        let lo = aberration.min() ?? 0, hi = aberration.max() ?? 1
        let scale = optics.aberrationRad / max(hi - lo, 1e-9)
        var psi = [Float](repeating: 0, count: width * height)
        var envelope = [Float](repeating: 0, count: width * height)
        // Gaussian beam: E = exp(−r²/w²) with r² = 2 at the corners of the unit square.
        let beam = -log(optics.illuminationAtCorner) / 2
        let tilt = rng.uniform(-0.05, 0.05)
        for y in 0..<height {
            let v = 2 * Double(y) / Double(height - 1) - 1
            for x in 0..<width {
                let u = 2 * Double(x) / Double(width - 1) - 1
                let i = y * width + x
                let carrier = 2 * Double.pi * (optics.carrier.x * Double(x) + optics.carrier.y * Double(y))
                psi[i] = Float(remainder(aberration[i] * scale - carrier, 2 * .pi))
                envelope[i] = Float(exp(-beam * (u * u + v * v)) * (1 + tilt * u))
            }
        }
        backgroundPhase = psi
        illumination = envelope
        let brightest = Double(envelope.max() ?? 1) * (2 + 2 * optics.fringeVisibility)
        electronsPerUnit = Float(optics.exposure * optics.fullWellElectrons / brightest)
    }

    /// Noise-free intensity I (arbitrary units, see the type's doc) of the whole frame for an OPD
    /// map in nm (`width × height`, row-major; zero = background).
    public func formIntensity(opdNm: [Float]) -> [Float] {
        precondition(opdNm.count == width * height)
        let k = Float(2 * Double.pi / optics.wavelengthNm)
        let kappa = Float(optics.attenuationPerUm / 1000)
        let v = Float(optics.fringeVisibility)
        if optics.defocusUm != 0 {
            return formDefocused(opdNm: opdNm)
        }
        var out = [Float](repeating: 0, count: width * height)
        for i in 0..<out.count {
            let opd = opdNm[i]
            let t = opd == 0 ? 1 : expf(-kappa * opd)
            out[i] = illumination[i] * (t * t + 1 + 2 * v * t * cosf(k * opd + backgroundPhase[i]))
        }
        return out
    }

    /// As `formIntensity`, with the object wave propagated by `optics.defocusUm` through the
    /// medium with the angular spectrum method: Ô(f) · exp(i·2π·dz·√((n/λ)² − |f|²)).
    private func formDefocused(opdNm: [Float]) -> [Float] {
        let n = width * height
        let k = 2 * Double.pi / optics.wavelengthNm
        let kappa = optics.attenuationPerUm / 1000
        let field = AlignedBuffer<fftwf_complex>(count: n, initial: (0, 0))
        for i in 0..<n {
            let opd = Double(opdNm[i])
            let t = exp(-kappa * opd)
            field[i] = (Float(t * cos(k * opd)), Float(t * sin(k * opd)))
        }
        let forward = FFTWPlanner.complex2D(rows: height, cols: width, direction: FFTW_FORWARD)
        let backward = FFTWPlanner.complex2D(rows: height, cols: width, direction: FFTW_BACKWARD)
        fftwf_execute_dft(forward.raw, field.pointer, field.pointer)
        let pixel = optics.pixelUm, dz = optics.defocusUm
        let nk = optics.mediumIndex / (optics.wavelengthNm / 1000)
        for y in 0..<height {
            let fy = Double(y <= height / 2 ? y : y - height) / (Double(height) * pixel)
            for x in 0..<width {
                let fx = Double(x <= width / 2 ? x : x - width) / (Double(width) * pixel)
                let q = nk * nk - fx * fx - fy * fy
                // Evanescent components decay; propagating ones turn by 2π·dz·√q.
                let (re, im) = field[y * width + x]
                let (c, s, damp) = q > 0 ? (cos(2 * .pi * dz * q.squareRoot()), sin(2 * .pi * dz * q.squareRoot()), 1.0)
                    : (1.0, 0.0, exp(-2 * .pi * abs(dz) * (-q).squareRoot()))
                let scale = damp / Double(n)
                field[y * width + x] = (Float((Double(re) * c - Double(im) * s) * scale), Float((Double(re) * s + Double(im) * c) * scale))
            }
        }
        fftwf_execute_dft(backward.raw, field.pointer, field.pointer)
        let v = Float(optics.fringeVisibility)
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let (re, im) = field[i]
            let c = cosf(backgroundPhase[i]), s = sinf(backgroundPhase[i])
            // Re(O · e^{iψ}) = re·cos ψ − im·sin ψ.
            out[i] = illumination[i] * (re * re + im * im + 1 + 2 * v * (re * c - im * s))
        }
        return out
    }

    /// The camera's reading of `intensity`: electrons with shot and read noise, quantised.
    /// Returns a frame of uint8 (8-bit) or uint16 (12/16-bit) pixels, stamped `seq` and, when
    /// given, the camera clock's `timeNanoseconds`.
    public func expose(_ intensity: [Float], rng: inout SimulationRandom, seq: UInt64, timeNanoseconds: Int64? = nil) -> Frame {
        let maxCount = Float((1 << optics.bitDepth) - 1)
        let gain = maxCount / Float(optics.fullWellElectrons)
        let read2 = Float(optics.readNoiseElectrons * optics.readNoiseElectrons)
        let dtype: PixelType = optics.bitDepth == 8 ? .uint8 : .uint16
        var counts = [Float](repeating: 0, count: intensity.count)
        @inline(__always) func read(_ j: Int, _ z: Float) {
            let electrons = intensity[j] * electronsPerUnit
            let noisy = electrons + (electrons + read2).squareRoot() * z
            counts[j] = min(max((noisy * gain).rounded(), 0), maxCount)
        }
        var i = 0
        while i < intensity.count {
            // Box–Muller gives two normals per pair of uniforms.
            let u1 = Float(max(rng.unit(), 1e-12)), u2 = Float(rng.unit())
            let r = (-2 * logf(u1)).squareRoot(), theta = 2 * Float.pi * u2
            read(i, r * cosf(theta))
            if i + 1 < intensity.count { read(i + 1, r * sinf(theta)) }
            i += 2
        }
        let header = FrameHeader(
            dtype: dtype, rows: height, cols: width, camera: "twin", seq: seq, timeNanoseconds: timeNanoseconds,
            wavelengthNm: optics.wavelengthNm, pixelUm: optics.pixelUm)
        let pixels = PixelBuffer(byteCount: header.payloadBytes) { raw in
            if dtype == .uint8 {
                for j in 0..<counts.count { raw[j] = UInt8(counts[j]) }
            } else {
                let words = raw.bindMemory(to: UInt16.self)
                for j in 0..<counts.count { words[j] = UInt16(counts[j]).littleEndian }
            }
        }
        return Frame(header: header, pixels: pixels)
    }
}
