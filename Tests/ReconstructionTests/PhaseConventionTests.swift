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

    @Test(
        "phase sign: as-is keeps the order's sign, inverted negates it, auto makes cells positive on either kind of rig",
        arguments: [false, true])
    func phaseSign(mirrored: Bool) throws {
        var optics = RigOptics()
        if mirrored { optics.carrier = [0.25, -0.25] }  // the +1 order now lies at kx < 0
        let scene = try Scene(size: 256, optics: optics, classes: [.healthy], positions: [(128, 128)], seed: 61)
        let expected = Self.meanInside(scene.truth, scene.truth)
        for sign in PhaseSign.allCases {
            var parameters = scene.parameters
            parameters.phaseSign = sign
            let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: parameters)
            let workspace = reconstructor.makeWorkspace()
            let hologram = HologramImage(frame: scene.hologram)
            let cells = try reconstructor.process(hologram, workspace: workspace)
            let mean = Self.meanInside(reconstructor.fullResolutionOPD(of: hologram, workspace: workspace), scene.truth)
            let positive = sign == .auto || (sign == .inverted) == mirrored
            #expect(abs(mean - (positive ? expected : -expected)) < 2, "\(sign), mirrored: \(mirrored)")
            #expect(cells.count == (positive ? 1 : 0), "\(sign), mirrored: \(mirrored)")
            if sign == .auto { #expect(workspace.phaseSign == (mirrored ? .inverted : .asIs)) }
        }
    }

    @Test("a camera's auto phase sign is decided by its first frame with a cell and then kept, even for empty frames")
    func phaseSignIsKeptPerCamera() throws {
        var optics = RigOptics()
        optics.carrier = [0.25, -0.25]
        let scene = try Scene(size: 256, optics: optics, classes: [.healthy], positions: [(128, 128)], seed: 61)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: scene.parameters)
        let workspace = reconstructor.makeWorkspace()
        let camera = PhaseSignState(.auto)
        _ = try reconstructor.process(HologramImage(frame: scene.reference), workspace: workspace, phaseSign: camera)
        #expect(camera.decided == nil, "a cell-free frame decides nothing")
        #expect(try reconstructor.process(HologramImage(frame: scene.hologram), workspace: workspace, phaseSign: camera).count == 1)
        #expect(camera.decided == .inverted)
        #expect(camera.newDecision() == .inverted)
        #expect(camera.newDecision() == nil, "the decision is announced once")
        _ = try reconstructor.process(HologramImage(frame: scene.reference), workspace: workspace, phaseSign: camera)
        #expect(workspace.phaseSign == .inverted)
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
        let error = rms(reconstructor.fullResolutionOPD(of: hologram, workspace: workspace), scene.truth) { scene.truth[$0] > 20 }
        print("no reference: OPD RMS error \(error) nm")
        #expect(error < 5)
    }
}
