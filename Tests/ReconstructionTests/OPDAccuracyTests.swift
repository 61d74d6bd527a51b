import Protocol
import Reconstruction
import Simulator
import Testing

@Suite("OPD maps agree with the twin's ground truth")
struct OPDAccuracyTests {
    /// Inside a cell: where the true OPD exceeds the mask threshold.
    static let insideNm: Float = 20

    @Test("1024² hologram with 8-bit camera noise: OPD RMS error inside cells ≤ 2 nm", arguments: [CellClass.healthy, .primaryCancer, .metastaticCancer])
    func noisyHologram(cellClass: CellClass) throws {
        let scene = try Scene(size: 1024, classes: [cellClass, cellClass], positions: [(300, 400), (700, 600)], seed: 11)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: scene.parameters)
        let workspace = reconstructor.makeWorkspace()
        let hologram = HologramImage(frame: scene.hologram)
        let cells = try reconstructor.process(hologram, workspace: workspace)
        #expect(cells.count == 2)
        let opd = reconstructor.fullResolutionOPD(of: hologram, workspace: workspace)
        let error = rms(opd, scene.truth) { scene.truth[$0] > Self.insideNm }
        print("OPD RMS error inside \(cellClass) cells: \(error) nm; max OPD \(scene.truth.max()!) nm")
        #expect(error <= 2)
    }
}

extension OPDAccuracyTests {
    @Test("noise-free hologram: OPD RMS error inside the cell ≤ 0.5 nm")
    func noiseFree() throws {
        let optics = RigOptics()
        let size = 512
        let camera = try HologramCamera(width: size, height: size, optics: optics, seed: 3)
        var rng = SimulationRandom(seed: 3)
        let patch = CellPhantom.random(.primaryCancer, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
        var truth = [Float](repeating: 0, count: size * size)
        patch.add(to: &truth, width: size, height: size, x: 250, y: 260)
        let hologram = try HologramImage(rows: size, cols: size, values: camera.formIntensity(opdNm: truth))
        let reference = try HologramImage(rows: size, cols: size, values: camera.formIntensity(opdNm: [Float](repeating: 0, count: size * size)))
        var parameters = ReconstructionParameters()
        parameters.pixelUm = optics.pixelUm
        let reconstructor = try OffAxisReconstructor(reference: reference, parameters: parameters)
        let workspace = reconstructor.makeWorkspace()
        let cells = try reconstructor.process(hologram, workspace: workspace)
        #expect(cells.count == 1)
        let error = rms(reconstructor.fullResolutionOPD(of: hologram, workspace: workspace), truth) { truth[$0] > Self.insideNm }
        print("noise-free OPD RMS error inside the cell: \(error) nm")
        #expect(error <= 0.5)
    }

    @Test("a uniform sphere's phase volume and dry mass match Δn·(4/3)πr³ and V/α")
    func sphereDryMass() throws {
        let optics = RigOptics()
        let size = 512
        let (r, dn) = (6.0, 0.03)
        let phantom = CellPhantom(cellClass: .healthy, bodies: [.ellipsoid(x: 0, y: 0, a: r, b: r, c: r, angle: 0, deltaN: dn)], extentUm: r)
        let camera = try HologramCamera(width: size, height: size, optics: optics, seed: 5)
        var truth = [Float](repeating: 0, count: size * size)
        phantom.render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm).add(to: &truth, width: size, height: size, x: 256, y: 256)
        var noise = SimulationRandom(seed: 5)
        let hologram = camera.expose(camera.formIntensity(opdNm: truth), rng: &noise, seq: 1)
        let reference = camera.expose(camera.formIntensity(opdNm: [Float](repeating: 0, count: size * size)), rng: &noise, seq: 0)
        var parameters = ReconstructionParameters()
        parameters.pixelUm = optics.pixelUm
        parameters.maskThresholdNm = 5
        parameters.detectionThresholdNm = 5
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: reference), parameters: parameters)
        let cells = try reconstructor.process(HologramImage(frame: hologram), workspace: reconstructor.makeWorkspace())
        let cell = try #require(cells.first)
        let volume = dn * 4 / 3 * Double.pi * r * r * r  // µm³
        print("sphere: phase volume \(cell.features.phaseVolumeUm3) µm³ (analytic \(volume)), dry mass \(cell.features.dryMassPg) pg")
        #expect(abs(cell.features.phaseVolumeUm3 - volume) / volume < 0.02)
        #expect(abs(cell.features.dryMassPg - volume / 0.18) / (volume / 0.18) < 0.02)
        #expect(abs(cell.features.maxOPDNm - 2 * r * dn * 1000) < 10)
        #expect(abs(cell.x - 256) < 1 && abs(cell.y - 256) < 1)
    }
}

extension OPDAccuracyTests {
    @Test("sizes that are not powers of two (250 × 202: row blocks of one, unaligned plans) reconstruct as well")
    func oddSizes() throws {
        let optics = RigOptics()
        let camera = try HologramCamera(width: 202, height: 250, optics: optics, seed: 7)
        var rng = SimulationRandom(seed: 7)
        var truth = [Float](repeating: 0, count: 250 * 202)
        CellPhantom.random(.healthy, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
            .add(to: &truth, width: 202, height: 250, x: 101, y: 125)
        var noise = SimulationRandom(seed: 8)
        let hologram = camera.expose(camera.formIntensity(opdNm: truth), rng: &noise, seq: 1)
        let reference = camera.expose(camera.formIntensity(opdNm: [Float](repeating: 0, count: 250 * 202)), rng: &noise, seq: 0)
        var parameters = ReconstructionParameters()
        parameters.pixelUm = optics.pixelUm
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: reference), parameters: parameters)
        let workspace = reconstructor.makeWorkspace()
        let image = HologramImage(frame: hologram)
        _ = try reconstructor.process(image, workspace: workspace)
        let error = rms(reconstructor.fullResolutionOPD(of: image, workspace: workspace), truth) { truth[$0] > Self.insideNm }
        #expect(error <= 2, "RMS error \(error) nm")
    }
}
