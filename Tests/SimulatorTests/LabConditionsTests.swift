import CFFTW
import FFTWSupport
import Foundation
import Protocol
import SystemSupport
import Testing

@testable import Simulator

@Suite("The twin at lab conditions")
struct LabConditionsTests {
    /// A small lab twin; `arm: false` gives it an ideal reference arm and `rotation: false` stops
    /// its cells from turning (cheaper, for statistics of the flow).
    static func labTwin(seed: UInt64 = 1, size: Int = 256, concentration: Double = 40000, arm: Bool = true, rotation: Bool = true) throws
        -> DigitalTwin
    {
        var optics = RigOptics()
        optics.magnification = optics.cameraPixelUm / 0.25
        var flow = FlowConfiguration()
        (flow.width, flow.height, flow.seed, flow.concentrationPerMicrolitre) = (size, size, seed, concentration)
        TwinConditions.lab.apply(to: &flow, optics: &optics)
        if !arm { optics.referenceArm = ReferenceArm() }
        if !rotation { flow.rotationDegreesPerFrame = 0 }
        return try DigitalTwin(flow: flow, optics: optics)
    }

    /// Every distinct object of `frames` frames, with its truth when first seen.
    static func objects(_ twin: inout DigitalTwin, frames: Int) -> [Int: CellTruth] {
        var seen: [Int: CellTruth] = [:]
        for _ in 0..<frames {
            for cell in twin.nextTruth().cells where seen[cell.id] == nil { seen[cell.id] = cell }
        }
        return seen
    }

    @Test("cells flow at the speeds of their depths: CV ≥ 0.1, mean ≈ the set velocity, |focus| ≤ 15 µm")
    func speedsAndFocus() throws {
        var twin = try Self.labTwin(arm: false, rotation: false)
        let cells = Array(Self.objects(&twin, frames: 50).values)
        #expect(cells.count >= 25)
        let speeds = cells.map(\.velocityUmPerSecond)
        let mean = speeds.reduce(0, +) / Double(speeds.count)
        let sd = (speeds.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(speeds.count - 1)).squareRoot()
        #expect(sd / mean >= 0.1, "coefficient of variation \(sd / mean)")
        #expect(abs(mean / twin.flow.velocityUmPerSecond - 1) < 0.15, "mean speed \(mean) µm/s")
        #expect(cells.allSatisfy { abs($0.focusUm) <= 15 })
        #expect(cells.contains { abs($0.focusUm) > 5 }, "some cells well out of focus")
        // Speed follows depth: v = v_max·(1 − (2z/D)²) with z the focus distance (no global defocus).
        for cell in cells {
            #expect(abs(cell.velocityUmPerSecond - twin.flow.velocity(atDepthUm: cell.focusUm)) < 1e-6)
        }
    }

    @Test("cells move at their own speed from frame to frame, and none overtakes another in its lane")
    func noOvertaking() throws {
        var twin = try Self.labTwin(seed: 2, arm: false)
        var previous = twin.nextTruth().cells
        for _ in 0..<25 {
            let cells = twin.nextTruth().cells
            for cell in cells {
                guard let before = previous.first(where: { $0.id == cell.id }) else { continue }
                let step = cell.velocityUmPerSecond / twin.flow.frameRate / twin.camera.optics.pixelUm
                #expect(abs(cell.x - before.x - step) <= 1)
            }
            for a in cells {
                for b in cells where a.id < b.id && abs(a.y - b.y) < a.extentPixels + b.extentPixels {
                    let gap = ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
                    #expect(gap >= a.extentPixels + b.extentPixels, "cells \(a.id) and \(b.id) overlap")
                }
            }
            previous = cells
        }
    }

    @Test("the lab sample holds debris, doublets and sperm besides the labelled cells; lab debris is faint")
    func sampleMix() throws {
        var flow = FlowConfiguration(), optics = RigOptics()
        TwinConditions.lab.apply(to: &flow, optics: &optics)
        #expect(flow.mixture == [.healthy: 1, .primaryCancer: 1, .metastaticCancer: 1, .debris: 0.3, .doublet: 0.1, .sperm: 0.05])
        #expect(flow.debrisStyle == .faint)
        var twin = try Self.labTwin(seed: 3, arm: false, rotation: false)
        let classes = Set(Self.objects(&twin, frames: 40).values.map(\.cellClass))
        #expect(classes.isSuperset(of: [.healthy, .primaryCancer, .metastaticCancer, .debris]), "\(classes)")
        // Faint: a tenth of a cell's OPD at most; the ideal twin's dense debris is several times that.
        var faint = SimulationRandom(seed: 9), dense = SimulationRandom(seed: 9)
        let peak = { (p: CellPhantom) in Double(p.render(pixelUm: 0.1, edgeSoftnessUm: 0.5).opdNm.max()!) }
        let faintPeaks = (0..<50).map { _ in peak(CellPhantom.random(.debris, debris: .faint, using: &faint)) }
        let densePeaks = (0..<50).map { _ in peak(CellPhantom.random(.debris, debris: .dense, using: &dense)) }
        #expect(faintPeaks.max()! < 100)
        #expect(faintPeaks.reduce(0, +) / 50 < 40)
        #expect(densePeaks.reduce(0, +) > 3 * faintPeaks.reduce(0, +))
    }

    @Test("a cell's truth focus brings its recorded field back into focus: propagate(recorded, focus_um) = in-focus field")
    func focusConvention() throws {
        let optics = RigOptics()
        var rng = SimulationRandom(seed: 4)
        let patch = CellPhantom.random(.metastaticCancer, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
        let focusUm = 12.0
        // What the twin records: the in-focus wave propagated by −focus.
        let propagator = try #require(ScatteredField.propagator(patchSize: patch.size, distanceUm: -focusUm, optics: optics))
        let recorded = ScatteredField(patch: patch, optics: optics, propagator: propagator)
        let phaseErrorNm = { (distance: Double) -> Double in
            let field = AlignedBuffer<fftwf_complex>(count: recorded.values.count, initial: (0, 0))
            for i in recorded.values.indices { field[i] = (recorded.values[i].x, recorded.values[i].y) }
            AngularSpectrum(
                rows: recorded.size, cols: recorded.size, pixelUm: (optics.pixelUm, optics.pixelUm),
                mediumIndex: optics.mediumIndex, wavelengthNm: optics.wavelengthNm
            ).propagate(field.pointer, distanceUm: distance)
            // Wrapped phase difference to the in-focus wave, as OPD, RMS over the cell.
            let offset = (recorded.size - patch.size) / 2
            var sum = 0.0, n = 0
            for py in 0..<patch.size {
                for px in 0..<patch.size where patch.opdNm[py * patch.size + px] > 20 {
                    let (re, im) = field[(py + offset) * recorded.size + px + offset]
                    let truth = 2 * Double.pi * Double(patch.opdNm[py * patch.size + px]) / optics.wavelengthNm
                    let got = atan2(Double(im), Double(re) + 1)
                    let error = remainder(got - truth, 2 * .pi) * optics.wavelengthNm / (2 * .pi)
                    sum += error * error
                    n += 1
                }
            }
            return (sum / Double(n)).squareRoot()
        }
        #expect(phaseErrorNm(focusUm) < 1, "refocused by +focus_um")
        #expect(phaseErrorNm(0) > 20, "as recorded")
        #expect(phaseErrorNm(-focusUm) > 20, "the wrong sign")
    }

    @Test("a cell's scattered wave propagated on its own and added to the background 1 is its whole wave propagated")
    func scatteredWaveKeepsItsPhase() throws {
        let optics = RigOptics()
        var rng = SimulationRandom(seed: 7)
        let patch = CellPhantom.random(.healthy, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
        let propagator = try #require(ScatteredField.propagator(patchSize: patch.size, distanceUm: -8, optics: optics))
        let scattered = ScatteredField(patch: patch, optics: optics, propagator: propagator)
        // The whole wave O = t·e^{iφ} (1 outside the cell) on the same padded grid, propagated.
        let whole = AlignedBuffer<fftwf_complex>(count: scattered.values.count, initial: (1, 0))
        let offset = (scattered.size - patch.size) / 2
        let k = 2 * Double.pi / optics.wavelengthNm, kappa = optics.attenuationPerUm / 1000
        for py in 0..<patch.size {
            for px in 0..<patch.size {
                let opd = Double(patch.opdNm[py * patch.size + px])
                whole[(py + offset) * scattered.size + px + offset] = (Float(exp(-kappa * opd) * cos(k * opd)), Float(exp(-kappa * opd) * sin(k * opd)))
            }
        }
        propagator.propagate(whole.pointer)
        var worst: Float = 0
        for i in scattered.values.indices {
            let sum = scattered.values[i] + SIMD2(1, 0)
            worst = max(worst, abs(sum.x - whole[i].0), abs(sum.y - whole[i].1))
        }
        #expect(worst < 1e-3, "largest difference \(worst)")
    }

    @Test("lab frames are deterministic, and differ from the ideal ones")
    func determinism() throws {
        var a = try Self.labTwin(seed: 5, size: 128), b = try Self.labTwin(seed: 5, size: 128)
        let bytes = { (f: Frame) in f.pixels.withUnsafeBytes { Array($0) } }
        #expect(bytes(a.reference()) == bytes(b.reference()))
        for _ in 0..<2 {
            let (fa, ta) = a.nextFrame(), (fb, tb) = b.nextFrame()
            #expect(bytes(fa) == bytes(fb))
            #expect(ta.cells == tb.cells)
        }
    }

    @Test("the lab reference arm drifts: a cell-free hologram minutes after the reference differs from it; an ideal arm's does not")
    func referenceDrift() throws {
        func drift(_ arm: ReferenceArm, after seconds: Double) throws -> Double {
            var optics = RigOptics()
            optics.referenceArm = arm
            let camera = try HologramCamera(width: 128, height: 128, optics: optics, seed: 1)
            let empty = [SIMD2<Float>](repeating: .zero, count: 128 * 128)
            let reference = camera.formIntensity(scattered: empty, secondsSinceReference: 0)
            let later = camera.formIntensity(scattered: empty, secondsSinceReference: seconds)
            let rms = { (x: [Float]) in (x.map { Double($0 * $0) }.reduce(0, +) / Double(x.count)).squareRoot() }
            return rms(zip(reference, later).map { $0 - $1 }) / rms(reference)
        }
        #expect(try drift(ReferenceArm(), after: 120) == 0)
        let lab = TwinConditions.labReferenceArm
        #expect(try drift(lab, after: lab.referenceAgeSeconds) > 0.02)
        #expect(try drift(lab, after: lab.referenceAgeSeconds + 60) > drift(lab, after: lab.referenceAgeSeconds))
    }
}
