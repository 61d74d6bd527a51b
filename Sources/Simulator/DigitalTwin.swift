import Protocol

/// The rig's digital twin: cells of a configured mixture flowing through the field of view of an
/// off-axis holographic microscope. Deterministic: the seed fixes every cell, position and noise
/// sample.
///
/// ```swift
/// var twin = try DigitalTwin(flow: flow, optics: optics)
/// let reference = twin.reference()          // a cell-free hologram, once
/// let shot = twin.nextFrame()               // shot.frame (camera pixels), shot.truth
/// ```
public struct DigitalTwin: Sendable {
    public let flow: FlowConfiguration
    public let camera: HologramCamera
    private var rng: SimulationRandom
    private var noise: SimulationRandom
    private var active: [FlowingCell] = []
    private var nextID = 0
    private var frameIndex = 0
    /// Arrivals that could not enter yet because the entrance was occupied.
    private var waiting = 0
    /// Set by ``stopArrivals()``: no cell enters any more.
    private var arrivalsStopped = false

    /// One cell in the channel: its phantom's rendered OPD patch and where it is.
    private struct FlowingCell: Sendable {
        let id: Int
        let cellClass: CellClass
        let patch: OPDPatch
        let extentPixels: Double
        let opdSum: Double
        var x: Double
        let y: Double
    }

    public init(flow: FlowConfiguration, optics: RigOptics) throws {
        if let problem = flow.validationError() { throw SimulationError(problem) }
        self.flow = flow
        camera = try HologramCamera(width: flow.width, height: flow.height, optics: optics, seed: flow.seed)
        rng = SimulationRandom(seed: flow.seed, stream: 1)
        noise = SimulationRandom(seed: flow.seed, stream: 2)
        if flow.startFlowing {
            // Run the flow (without cameras) for as long as a cell takes to cross the field.
            for _ in 0..<Int((Double(flow.width) / pixelsPerFrame).rounded(.up)) { advance() }
        }
    }

    /// Pixels a cell moves between frames.
    public var pixelsPerFrame: Double { flow.umPerFrame / camera.optics.pixelUm }

    /// Expected number of cells entering the field per frame: concentration × swept volume.
    public var arrivalsPerFrame: Double {
        let heightUm = Double(flow.height) * camera.optics.pixelUm
        let sweptMicrolitres = heightUm * flow.channelDepthUm * flow.umPerFrame * 1e-9
        return flow.concentrationPerMicrolitre * sweptMicrolitres
    }

    /// A cell-free hologram of the same rig (what the operator records before the sample
    /// flows), with its own noise. Does not advance the flow.
    public func reference() -> Frame {
        var referenceNoise = SimulationRandom(seed: flow.seed, stream: 3)
        let blank = [Float](repeating: 0, count: flow.width * flow.height)
        return camera.expose(camera.formIntensity(opdNm: blank), rng: &referenceNoise, seq: 0)
    }

    /// Advances the flow by one frame and returns the hologram with its ground truth.
    public mutating func nextFrame() -> (frame: Frame, truth: FrameTruth) {
        advance()

        var opd = [Float](repeating: 0, count: flow.width * flow.height)
        var cells: [CellTruth] = []
        for cell in active {
            let cx = Int(cell.x.rounded()), cy = Int(cell.y.rounded())
            guard cell.patch.add(to: &opd, width: flow.width, height: flow.height, x: cx, y: cy) else { continue }
            let e = cell.extentPixels
            let inside = cell.x - e >= 0 && cell.x + e < Double(flow.width) && cell.y - e >= 0 && cell.y + e < Double(flow.height)
            cells.append(
                CellTruth(
                    id: cell.id, cellClass: cell.cellClass, label: cell.cellClass.label, x: Double(cx), y: Double(cy),
                    extentPixels: e, fullyInside: inside, opdSumNm: cell.opdSum))
        }
        // The camera clock: frame k is exposed k / frame rate after the first.
        let frame = camera.expose(
            camera.formIntensity(opdNm: opd), rng: &noise, seq: UInt64(frameIndex + 1),
            timeNanoseconds: Int64((Double(frameIndex) / flow.frameRate * 1e9).rounded()))
        let truth = FrameTruth(index: frameIndex, cells: cells, opdNm: opd)
        frameIndex += 1
        return (frame, truth)
    }

    /// Advances the flow by `frames` frames without forming their holograms (cheap: no optics).
    ///
    /// Why: forming a 1024² hologram takes ≈ 60 ms, so a long run is rendered fastest in
    /// parallel segments, each by its own twin with the same seed skipped ahead to its first
    /// frame. The segments join into one continuous flow: the same cells at the same positions
    /// as a single twin would show. Only the camera noise differs (the skipped twin draws it from
    /// a stream of its own, so that no two segments repeat each other's noise).
    public mutating func skip(frames: Int) {
        precondition(frames >= 0, "cannot skip \(frames) frames")
        for _ in 0..<frames { advance() }
        frameIndex += frames
        noise = SimulationRandom(seed: flow.seed, stream: 2 &+ (UInt64(frameIndex) << 40))
    }

    /// From the next frame on, no cell enters the channel: the channel empties as the cells in
    /// it flow out (one field crossing). With `startFlowing = false`, a run that ends this way
    /// can be replayed in a loop without a seam: its last frame is as empty as its first.
    public mutating func stopArrivals() {
        arrivalsStopped = true
        waiting = 0
    }

    /// Whether no cell is in the channel any more (none at least partly in view or about to enter).
    public var isEmpty: Bool { active.isEmpty && waiting == 0 }

    /// Moves every cell one frame on, drops those that left, admits new arrivals.
    private mutating func advance() {
        let step = pixelsPerFrame
        for i in active.indices { active[i].x += step }
        active.removeAll { $0.x - $0.extentPixels > Double(flow.width) }
        guard !arrivalsStopped else { return }
        waiting += rng.poisson(arrivalsPerFrame)
        while waiting > 0, admitOne() { waiting -= 1 }
    }

    /// Draws a cell and places it just left of the field if the entrance is free.
    private mutating func admitOne() -> Bool {
        let pixel = camera.optics.pixelUm
        var lane = rng
        let cellClass = drawClass(using: &lane)
        var cellRNG = SimulationRandom(seed: flow.seed, stream: 1000 + UInt64(nextID))
        let phantom = CellPhantom.random(cellClass, using: &cellRNG)
        let extent = phantom.extentUm / pixel
        let margin = Double(flow.height) * (1 - flow.laneFraction) / 2
        let y = lane.uniform(margin + min(extent, Double(flow.height) / 2 - margin), Double(flow.height) - margin - min(extent, Double(flow.height) / 2 - margin))
        // Enter anywhere in the first step's worth of track, so arrivals are not synchronised.
        let x = -extent - lane.uniform(0, pixelsPerFrame)
        let gap = flow.minimumGapUm / pixel
        for other in active {
            let dx = other.x - x, dy = other.y - y
            let needed = other.extentPixels + extent + gap
            if dx * dx + dy * dy < needed * needed { return false }
        }
        rng = lane
        let patch = phantom.render(pixelUm: pixel, edgeSoftnessUm: camera.optics.edgeSoftnessUm)
        let sum = patch.opdNm.reduce(0.0) { $0 + Double($1) }
        active.append(FlowingCell(id: nextID, cellClass: cellClass, patch: patch, extentPixels: Double(patch.center), opdSum: sum, x: x, y: y))
        nextID += 1
        return true
    }

    private func drawClass(using rng: inout SimulationRandom) -> CellClass {
        let entries = CellClass.allCases.compactMap { c in flow.mixture[c].map { (c, $0) } }.filter { $0.1 > 0 }
        var u = rng.unit() * entries.reduce(0) { $0 + $1.1 }
        for (c, w) in entries {
            if u < w { return c }
            u -= w
        }
        return entries.last!.0
    }
}
