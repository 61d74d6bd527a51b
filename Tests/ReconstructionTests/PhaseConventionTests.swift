import Protocol
import Reconstruction
import Simulator
import Testing

@Suite("Phase sign and the reference-free mode")
struct PhaseConventionTests {
    /// Mean reconstructed OPD over the pixels where the true OPD exceeds 100 nm.
    static func meanInside(_ opd: [Float], _ truth: [Float]) -> Double {
        let inside = truth.indices.filter { truth[$0] > 100 }
        return inside.reduce(0.0) { $0 + Double(opd[$1]) } / Double(inside.count)
    }

    @Test("with the carrier mirrored, cells come out negative unless --invert-phase is set")
    func mirroredCarrier() throws {
        var optics = RigOptics()
        optics.carrier = [0.25, -0.25]  // the +1 order now lies at kx < 0
        let scene = try Scene(size: 256, optics: optics, classes: [.healthy], positions: [(128, 128)], seed: 61)
        let expected = Self.meanInside(scene.truth, scene.truth)
        for invert in [false, true] {
            var parameters = scene.parameters
            parameters.invertPhase = invert
            let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: parameters)
            let workspace = reconstructor.makeWorkspace()
            let cells = try reconstructor.process(HologramImage(frame: scene.hologram), workspace: workspace)
            let mean = Self.meanInside(reconstructor.fullResolutionOPD(workspace: workspace), scene.truth)
            if invert {
                #expect(abs(mean - expected) < 2)
                #expect(cells.count == 1)
            } else {
                #expect(abs(mean + expected) < 2)
                #expect(cells.isEmpty)
            }
        }
    }

    @Test("without a reference, the sub-pixel carrier is removed explicitly and flat-field OPD is still right")
    func noReference() throws {
        var optics = RigOptics()
        optics.aberrationRad = 0
        optics.carrier = [-0.2437, 0.2611]  // far from whole bins at 256 px
        let scene = try Scene(size: 256, optics: optics, classes: [.metastaticCancer], positions: [(128, 128)], seed: 62)
        let hologram = HologramImage(frame: scene.hologram)
        let reconstructor = try OffAxisReconstructor(reference: nil, sidebandSource: hologram, parameters: scene.parameters)
        let workspace = reconstructor.makeWorkspace()
        let cells = try reconstructor.process(hologram, workspace: workspace)
        #expect(cells.count == 1)
        let error = rms(reconstructor.fullResolutionOPD(workspace: workspace), scene.truth) { scene.truth[$0] > 20 }
        print("no reference: OPD RMS error \(error) nm")
        #expect(error < 5)
    }
}
