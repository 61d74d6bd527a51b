import Foundation
import Simulator
import Testing

@testable import Reconstruction

@Suite("Phase unwrapping per cell region")
struct UnwrappingTests {
    @Test("a steep cell of ≈ 2 waves of OPD is unwrapped without a wrong turn, to within 2 nm RMS")
    func steepCell() throws {
        // Four times the OPD of a real cell: ≈ 1.3 µm, about two wavelengths, wrapping 4 times.
        // Its steeper edges spread the field's spectrum, so the filter is widened to ½ of the
        // sideband distance (docs/reconstruction.md, "Limits").
        let scene = try Scene(size: 512, classes: [.primaryCancer], positions: [(256, 256)], seed: 21, scaleOPD: 4)
        var parameters = scene.parameters
        parameters.filterRadiusFraction = 0.5
        parameters.refocus = false  // the cell is in focus; this is about unwrapping alone
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: parameters)
        let workspace = reconstructor.makeWorkspace()
        let hologram = HologramImage(frame: scene.hologram)
        let cells = try reconstructor.process(hologram, workspace: workspace)
        #expect(cells.count == 1)
        #expect(scene.truth.max()! > 2 * 633)
        let opd = reconstructor.fullResolutionOPD(of: hologram, workspace: workspace)
        let error = rms(opd, scene.truth) { scene.truth[$0] > 20 }
        let worst = zip(opd, scene.truth).map { abs($0 - $1) }.max()!
        #expect(worst < 633 / 4, "a pixel is off by \(worst) nm: a wrong turn")
        print("steep cell: worst pixel \(worst) nm, max OPD \(scene.truth.max()!) nm, RMS error \(error) nm, residues \(cells.first?.residues ?? -1)")
        #expect(error <= 2)
    }

    /// A smooth ramp-and-bump phase (rad) on a `size²` grid.
    static func surface(size: Int) -> [Float] {
        (0..<(size * size)).map { i in
            let x = Float(i % size), y = Float(i / size)
            let r2 = ((x - 20) * (x - 20) + (y - 24) * (y - 24)) / 150
            return 0.35 * x + 0.2 * y + 9 * expf(-r2)
        }
    }

    @Test("without residues the fast path reproduces the surface exactly")
    func fastPath() {
        let size = 48
        let truth = Self.surface(size: size)
        var wrapped = truth.map { FastMath.wrap($0) }
        var unwrapper = PhaseUnwrapper()
        let residues = wrapped.withUnsafeMutableBufferPointer { unwrapper.unwrap($0.baseAddress!, width: size, height: size) }
        #expect(residues == 0)
        let offset = truth[0] - wrapped[0]
        #expect(zip(wrapped, truth).allSatisfy { abs($0 + offset - $1) < 1e-3 })
    }

    @Test("with residues, reliability sorting (Herráez 2002) confines the errors to the corrupted pixels")
    func robustPath() {
        let size = 48
        let truth = Self.surface(size: size)
        var wrapped = truth.map { FastMath.wrap($0) }
        // Corrupt a few isolated pixels by half a turn: each creates residues around it.
        let corrupted = [10 * size + 30, 30 * size + 12, 40 * size + 40]
        for i in corrupted { wrapped[i] = FastMath.wrap(wrapped[i] + 3) }
        var unwrapper = PhaseUnwrapper()
        let residues = wrapped.withUnsafeMutableBufferPointer { unwrapper.unwrap($0.baseAddress!, width: size, height: size) }
        #expect(residues > 0)
        let offset = truth[0] - wrapped[0]
        let wrong = (0..<(size * size)).filter { !corrupted.contains($0) && abs(wrapped[$0] + offset - truth[$0]) > 1e-3 }
        #expect(wrong.isEmpty, "\(wrong.count) clean pixels off by a turn")
    }

    @Test("fast atan2 is within 2e-6 rad of libm everywhere")
    func fastAtan2() {
        var worst: Float = 0
        for k in 0..<20000 {
            let angle = Float(k) / 20000 * 2 * .pi - .pi
            let radius: Float = k % 3 == 0 ? 1e-3 : 7
            let (y, x) = (radius * sinf(angle), radius * cosf(angle))
            worst = max(worst, abs(FastMath.atan2(y, x) - atan2f(y, x)))
        }
        #expect(worst < 2e-6, "worst error \(worst)")
    }
}
