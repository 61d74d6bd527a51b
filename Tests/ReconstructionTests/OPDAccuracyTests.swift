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
        let cells = try reconstructor.process(HologramImage(frame: scene.hologram), workspace: workspace)
        #expect(cells.count == 2)
        let opd = reconstructor.fullResolutionOPD(workspace: workspace)
        let error = rms(opd, scene.truth) { scene.truth[$0] > Self.insideNm }
        print("OPD RMS error inside \(cellClass) cells: \(error) nm; max OPD \(scene.truth.max()!) nm")
        #expect(error <= 2)
    }
}
