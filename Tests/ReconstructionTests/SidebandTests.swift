import Reconstruction
import Simulator
import Testing

@Suite("The sideband is found from the reference, whatever the carrier")
struct SidebandTests {
    @Test(
        "sub-pixel position within 0.2 bin of −carrier",
        arguments: [
            SIMD2<Double>(-0.25, 0.25), SIMD2(-0.31, 0.12), SIMD2(-0.12, 0.3), SIMD2(-0.28, -0.2), SIMD2(-0.2, 0.05),
            SIMD2(-0.173, 0.217),
        ])
    func carriers(carrier: SIMD2<Double>) throws {
        var optics = RigOptics()
        optics.carrier = carrier
        let size = 256
        let camera = try HologramCamera(width: size, height: size, optics: optics, seed: 1)
        var noise = SimulationRandom(seed: 2)
        let reference = camera.expose(camera.formIntensity(opdNm: [Float](repeating: 0, count: size * size)), rng: &noise, seq: 0)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: reference), parameters: ReconstructionParameters())
        // The object term exp(iφ)·conj(R) sits at −carrier; the real FFT stores kx ≥ 0.
        let expected = -carrier * Double(size)
        let s = reconstructor.sideband
        #expect(abs(s.kx - expected.x) < 0.2, "kx \(s.kx), expected \(expected.x)")
        #expect(abs(s.ky - expected.y) < 0.2, "ky \(s.ky), expected \(expected.y)")
    }

    @Test("an image without fringes is refused with a reason")
    func noFringes() throws {
        var rng = SimulationRandom(seed: 9)
        let flat = try HologramImage(rows: 128, cols: 128, values: (0..<(128 * 128)).map { _ in Float(100 + rng.normal()) })
        #expect(throws: ReconstructionError.self) {
            _ = try OffAxisReconstructor(reference: flat, parameters: ReconstructionParameters())
        }
    }

    @Test("holograms of another size than the reference are refused")
    func sizeMismatch() throws {
        let camera = try HologramCamera(width: 128, height: 128, optics: RigOptics(), seed: 1)
        let reference = try HologramImage(rows: 128, cols: 128, values: camera.formIntensity(opdNm: [Float](repeating: 0, count: 128 * 128)))
        let reconstructor = try OffAxisReconstructor(reference: reference, parameters: ReconstructionParameters())
        let other = try HologramImage(rows: 64, cols: 64, values: [Float](repeating: 1, count: 64 * 64))
        #expect(throws: ReconstructionError.self) { _ = try reconstructor.process(other, workspace: reconstructor.makeWorkspace()) }
    }
}
