import Foundation
import Protocol
import Testing

@testable import Simulator

@Suite("The digital twin")
struct TwinTests {
    static func twin(seed: UInt64 = 1, bitDepth: Int = 8) throws -> DigitalTwin {
        var optics = RigOptics()
        optics.bitDepth = bitDepth
        optics.magnification = optics.cameraPixelUm / 0.25
        var flow = FlowConfiguration()
        flow.width = 256
        flow.height = 256
        flow.seed = seed
        flow.concentrationPerMicrolitre = 20000
        return try DigitalTwin(flow: flow, optics: optics)
    }

    @Test("is deterministic: the same seed gives the same frames bit for bit")
    func determinism() throws {
        var a = try Self.twin(seed: 3), b = try Self.twin(seed: 3), c = try Self.twin(seed: 4)
        for _ in 0..<3 {
            let (fa, ta) = a.nextFrame(), (fb, tb) = b.nextFrame(), (fc, _) = c.nextFrame()
            let bytes = { (f: Frame) in f.pixels.withUnsafeBytes { Array($0) } }
            #expect(bytes(fa) == bytes(fb))
            #expect(ta.cells == tb.cells)
            #expect(bytes(fa) != bytes(fc))
        }
    }

    @Test("cells move by the set displacement per frame and keep their ids")
    func flow() throws {
        var twin = try Self.twin()
        let (_, first) = twin.nextFrame()
        let (_, second) = twin.nextFrame()
        #expect(!first.cells.isEmpty)
        for cell in first.cells {
            guard let next = second.cells.first(where: { $0.id == cell.id }) else { continue }
            #expect(abs(next.x - cell.x - twin.pixelsPerFrame) <= 1)
            #expect(next.y == cell.y)
        }
    }

    @Test("a twin skipped ahead shows the same cells where a single twin would, with other noise")
    func skip() throws {
        var whole = try Self.twin(seed: 5), skipped = try Self.twin(seed: 5)
        for _ in 0..<4 { _ = whole.nextFrame() }
        skipped.skip(frames: 4)
        let (wholeFrame, wholeTruth) = whole.nextFrame(), (skippedFrame, skippedTruth) = skipped.nextFrame()
        #expect(!wholeTruth.cells.isEmpty)
        #expect(skippedTruth.index == wholeTruth.index)
        #expect(skippedTruth.cells == wholeTruth.cells)
        #expect(skippedTruth.opdNm == wholeTruth.opdNm)
        let bytes = { (f: Frame) in f.pixels.withUnsafeBytes { Array($0) } }
        #expect(bytes(skippedFrame) != bytes(wholeFrame))
        #expect(skippedFrame.header.seq == wholeFrame.header.seq)
    }

    @Test("once arrivals stop, the channel empties within a field crossing, and a run can loop without a seam")
    func stopArrivals() throws {
        var flow = FlowConfiguration()
        (flow.width, flow.height, flow.concentrationPerMicrolitre, flow.startFlowing) = (256, 256, 20000, false)
        var optics = RigOptics()
        optics.magnification = optics.cameraPixelUm / 0.25
        var twin = try DigitalTwin(flow: flow, optics: optics)
        #expect(twin.nextFrame().truth.cells.isEmpty, "an empty channel at the start")
        for _ in 0..<20 { _ = twin.nextFrame() }
        #expect(!twin.isEmpty)
        twin.stopArrivals()
        let crossing = Int((Double(flow.width) / twin.pixelsPerFrame).rounded(.up)) + 2
        for _ in 0..<crossing { _ = twin.nextFrame() }
        #expect(twin.isEmpty)
        #expect(twin.nextFrame().truth.cells.isEmpty, "as empty at the end")
    }

    @Test("arrivals follow the concentration: cells per frame ≈ concentration × swept volume")
    func arrivals() throws {
        var twin = try Self.twin(seed: 6)
        var ids = Set<Int>()
        let frames = 200
        for _ in 0..<frames { ids.formUnion(twin.nextFrame().truth.cells.map(\.id)) }
        let expected = twin.arrivalsPerFrame * Double(frames)
        // The ones already in the channel at frame 0 add about one field's worth.
        #expect(Double(ids.count) > 0.8 * expected && Double(ids.count) < 1.2 * expected + 10)
    }

    @Test("8-bit frames are uint8 and 12-bit ones uint16 below 4096, exposed near the set level", arguments: [8, 12])
    func quantisation(bitDepth: Int) throws {
        var twin = try Self.twin(bitDepth: bitDepth)
        let frame = twin.nextFrame().frame
        let values: [Int] = frame.pixels.withUnsafeBytes { raw in
            bitDepth == 8 ? raw.map(Int.init) : raw.bindMemory(to: UInt16.self).map(Int.init)
        }
        #expect(frame.header.dtype == (bitDepth == 8 ? .uint8 : .uint16))
        let top = (1 << bitDepth) - 1
        #expect(values.max()! <= top)
        // Mean of |O|² + |R|² ≈ 2 against the brightest fringe 2 + 2V, at 85 % of full scale.
        let mean = Double(values.reduce(0, +)) / Double(values.count)
        #expect(mean > 0.3 * Double(top) && mean < 0.6 * Double(top))
    }

    @Test("angular-spectrum defocus: a vanishing distance gives the in-focus hologram")
    func defocusLimit() throws {
        var optics = RigOptics()
        let camera = try HologramCamera(width: 128, height: 128, optics: optics, seed: 1)
        optics.defocusUm = 1e-6
        let defocused = try HologramCamera(width: 128, height: 128, optics: optics, seed: 1)
        optics.defocusUm = 5
        let far = try HologramCamera(width: 128, height: 128, optics: optics, seed: 1)
        var opd = [Float](repeating: 0, count: 128 * 128)
        var rng = SimulationRandom(seed: 2)
        CellPhantom.random(.healthy, using: &rng).render(pixelUm: optics.pixelUm, edgeSoftnessUm: 0.5).add(to: &opd, width: 128, height: 128, x: 64, y: 64)
        let a = camera.formIntensity(opdNm: opd), b = defocused.formIntensity(opdNm: opd), c = far.formIntensity(opdNm: opd)
        let maxDiff = { (x: [Float], y: [Float]) in zip(x, y).map { abs($0 - $1) }.max()! }
        #expect(maxDiff(a, b) < 1e-3)
        #expect(maxDiff(a, c) > 0.05)
    }

    @Test("bad configurations are refused with a reason")
    func validation() {
        var optics = RigOptics()
        optics.bitDepth = 10
        #expect(throws: SimulationError.self) { _ = try HologramCamera(width: 64, height: 64, optics: optics, seed: 1) }
        var flow = FlowConfiguration()
        flow.frameRate = 0
        #expect(throws: SimulationError.self) { _ = try DigitalTwin(flow: flow, optics: RigOptics()) }
    }
}
