import Protocol
import Reconstruction
import Simulator

/// A hologram of phantoms at known places, with its reference and true OPD: the fixture of the
/// reconstruction specifications.
struct Scene {
    let hologram: Frame
    let reference: Frame
    /// True OPD, nm, on the hologram grid.
    let truth: [Float]
    let size: Int
    let optics: RigOptics

    /// Phantoms of `classes` placed at `positions` (pixels) on a `size²` camera.
    init(
        size: Int, optics: RigOptics = RigOptics(), classes: [CellClass], positions: [(Int, Int)], seed: UInt64,
        scaleOPD: Float = 1
    ) throws {
        let camera = try HologramCamera(width: size, height: size, optics: optics, seed: seed)
        var opd = [Float](repeating: 0, count: size * size)
        for (k, (cellClass, position)) in zip(classes, positions).enumerated() {
            var rng = SimulationRandom(seed: seed, stream: UInt64(100 + k))
            let patch = CellPhantom.random(cellClass, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
            patch.add(to: &opd, width: size, height: size, x: position.0, y: position.1)
        }
        opd = opd.map { $0 * scaleOPD }
        var noise = SimulationRandom(seed: seed, stream: 7)
        hologram = camera.expose(camera.formIntensity(opdNm: opd), rng: &noise, seq: 1)
        reference = camera.expose(camera.formIntensity(opdNm: [Float](repeating: 0, count: size * size)), rng: &noise, seq: 0)
        truth = opd
        self.size = size
        self.optics = optics
    }

    var parameters: ReconstructionParameters {
        var p = ReconstructionParameters()
        p.wavelengthNm = optics.wavelengthNm
        p.pixelUm = optics.pixelUm
        return p
    }
}

/// Root-mean-square of `a − b` over the indices where `mask` holds.
func rms(_ a: [Float], _ b: [Float], where mask: (Int) -> Bool) -> Double {
    var sum = 0.0, n = 0
    for i in a.indices where mask(i) {
        let d = Double(a[i] - b[i])
        sum += d * d
        n += 1
    }
    return n > 0 ? (sum / Double(n)).squareRoot() : .nan
}
