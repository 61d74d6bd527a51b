import Protocol
import Reconstruction
import Simulator
import Testing

/// Per-cell refocusing (``CellRefocuser``): a cell recorded out of focus is measured in focus.
@Suite("Refocusing cells recorded out of focus")
struct RefocusTests {
    /// A primary-cancer cell recorded `defocusUm` out of focus on a 384² camera.
    static func scene(defocusUm: Double) throws -> Scene {
        var optics = RigOptics()
        optics.defocusUm = defocusUm
        return try Scene(size: 384, optics: optics, classes: [.primaryCancer], positions: [(192, 192)], seed: 71)
    }

    static func reconstruct(_ scene: Scene, refocus: Bool, rangeUm: Double = 15) throws -> (DetectedCell?, [Float]) {
        var parameters = scene.parameters
        parameters.refocus = refocus
        parameters.refocusRangeUm = rangeUm
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: parameters)
        let workspace = reconstructor.makeWorkspace()
        let hologram = HologramImage(frame: scene.hologram)
        let cells = try reconstructor.process(hologram, workspace: workspace)
        return (cells.count == 1 ? cells[0] : nil, reconstructor.fullResolutionOPD(of: hologram, workspace: workspace))
    }

    @Test(
        "the focus distance is found within 0.3 µm, and the refocused OPD matches the in-focus truth within 5 nm RMS",
        arguments: [-9.0, 6.0])
    func refocused(defocusUm: Double) throws {
        let scene = try Self.scene(defocusUm: defocusUm)
        let (cell, opd) = try Self.reconstruct(scene, refocus: true)
        let found = try #require(cell)
        let focus = try #require(found.focusUm)
        #expect(abs(focus + defocusUm) <= 0.3, "recorded \(defocusUm) µm out of focus, refocused by \(focus) µm")
        #expect(!found.refocusFailed)
        let inside = { scene.truth[$0] > 20 }
        let error = rms(opd, scene.truth, where: inside)
        let (_, unfocused) = try Self.reconstruct(scene, refocus: false)
        let before = rms(unfocused, scene.truth, where: inside)
        print("refocus \(defocusUm) µm: found \(focus) µm; OPD RMS error \(error) nm (recorded plane: \(before) nm)")
        #expect(error <= 5)
        #expect(before > 4 * error, "out of focus, the recorded plane is far from the truth")
    }

    @Test("a hint near the cell's focus gives the full search's focus; a hint far from it falls back to the full search")
    func hinted() throws {
        let scene = try Self.scene(defocusUm: 7)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: scene.parameters)
        let workspace = reconstructor.makeWorkspace()
        let hologram = HologramImage(frame: scene.hologram)
        func focus(hint: Double?) throws -> Double {
            let hints = hint.map { [FocusHint(x: 192, y: 192, focusUm: $0)] } ?? []
            let cells = try reconstructor.process(hologram, workspace: workspace, focusHints: hints)
            return try #require(cells.first?.focusUm)
        }
        let full = try focus(hint: nil)
        #expect(abs(full + 7) <= 0.3)
        #expect(abs(try focus(hint: -6.2) - full) <= 0.1, "near: the three-point grid brackets the focus")
        #expect(abs(try focus(hint: 3) - full) <= 0.1, "far: the hinted grid does not bracket it, the full search runs")
    }

    @Test("a cell whose focus lies outside the search range is still found, measured in the recorded plane and flagged")
    func outOfRange() throws {
        let (cell, _) = try Self.reconstruct(try Self.scene(defocusUm: 8), refocus: true, rangeUm: 2)
        let found = try #require(cell)
        #expect(found.refocusFailed)
        #expect(found.focusUm == nil)
    }

    @Test("a search range or medium index that makes no sense is refused")
    func badParameters() {
        var parameters = ReconstructionParameters()
        parameters.refocusRangeUm = 0
        #expect(parameters.validationError()?.contains("refocus range") == true)
        parameters.refocusRangeUm = 15
        parameters.mediumIndex = 0.8
        #expect(parameters.validationError()?.contains("medium index") == true)
    }
}
