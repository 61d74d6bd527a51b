import FFTWSupport
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

    /// The class parameters the labelled cells are drawn from (`flow.classParameters`).
    public let classParameters: ClassParameters
    /// Whether frames are formed from each cell's (propagated) complex field and the reference
    /// arm's effects (``HologramCamera/formIntensity(scattered:secondsSinceReference:)``)
    /// rather than from the OPD map alone (the ideal conditions, bit for bit as before).
    public let formsFields: Bool

    /// One cell in the channel: its phantom, its rendered OPD patch (at its current angle) and
    /// where it is and goes.
    private struct FlowingCell: Sendable {
        let id: Int
        let cellClass: CellClass
        let phantom: CellPhantom
        var patch: OPDPatch
        let extentPixels: Double
        var opdSum: Double
        var x: Double
        let y: Double
        /// Pixels moved per frame.
        let step: Double
        let velocityUmPerSecond: Double
        /// See ``CellTruth/focusUm``.
        let focusUm: Double
        /// In-plane orientation relative to the phantom as drawn, and its change per frame, rad.
        var angle = 0.0
        let spin: Double
        /// The angle `patch` (and `field`) were rendered at.
        var renderedAngle = 0.0
        /// Its scattered wave as the camera records it (when the twin forms fields), cached
        /// until the cell turns.
        var field: ScatteredField?
        let propagator: AngularSpectrum.Fixed?
    }

    public init(flow: FlowConfiguration, optics: RigOptics) throws {
        if let problem = flow.validationError() { throw SimulationError(problem) }
        self.flow = flow
        camera = try HologramCamera(width: flow.width, height: flow.height, optics: optics, seed: flow.seed)
        classParameters = ClassParameters.named(flow.classParameters)
        formsFields = flow.cellDepth == .random || !optics.referenceArm.isIdeal
        rng = SimulationRandom(seed: flow.seed, stream: 1)
        noise = SimulationRandom(seed: flow.seed, stream: 2)
        if flow.startFlowing {
            // Run the flow (without cameras) for as long as the slowest cell takes to cross the field.
            for _ in 0..<crossingFrames { advance() }
        }
    }

    /// Pixels a cell at the mean speed (`flow.velocityUmPerSecond`) moves between frames.
    public var pixelsPerFrame: Double { flow.umPerFrame / camera.optics.pixelUm }

    /// Frames the slowest cell takes to cross the field.
    public var crossingFrames: Int { Int((Double(flow.width) / (pixelsPerFrame * flow.slowestSpeedFraction)).rounded(.up)) }

    /// Expected number of cells entering the field per frame: concentration × swept volume.
    public var arrivalsPerFrame: Double {
        let heightUm = Double(flow.height) * camera.optics.pixelUm
        let sweptMicrolitres = heightUm * flow.channelDepthUm * flow.umPerFrame * 1e-9
        return flow.concentrationPerMicrolitre * sweptMicrolitres
    }

    /// A cell-free hologram of the same rig (what the operator records before the sample
    /// flows), with its own noise. Does not advance the flow.
    /// With the reference arm's drifts, the reference is recorded `referenceAgeSeconds` before
    /// frame 0.
    public func reference() -> Frame {
        var referenceNoise = SimulationRandom(seed: flow.seed, stream: 3)
        let intensity =
            formsFields
            ? camera.formIntensity(scattered: [SIMD2<Float>](repeating: .zero, count: flow.width * flow.height), secondsSinceReference: 0)
            : camera.formIntensity(opdNm: [Float](repeating: 0, count: flow.width * flow.height))
        return camera.expose(intensity, rng: &referenceNoise, seq: 0)
    }

    /// Advances the flow by one frame and returns the hologram with its ground truth.
    public mutating func nextFrame() -> (frame: Frame, truth: FrameTruth) {
        advance()
        var scattered = formsFields ? [SIMD2<Float>](repeating: .zero, count: flow.width * flow.height) : []
        let truth = placeCells(scattered: &scattered)
        let intensity =
            formsFields
            ? camera.formIntensity(scattered: scattered, secondsSinceReference: secondsSinceReference)
            : camera.formIntensity(opdNm: truth.opdNm)
        // The camera clock: frame k is exposed k / frame rate after the first.
        let frame = camera.expose(
            intensity, rng: &noise, seq: UInt64(frameIndex + 1),
            timeNanoseconds: Int64((Double(frameIndex) / flow.frameRate * 1e9).rounded()))
        frameIndex += 1
        return (frame, truth)
    }

    /// Advances the flow by one frame and returns its ground truth only, without the hologram
    /// (no optics: the flow's statistics at a fraction of the cost). The next frame is the same
    /// as after ``nextFrame()``; only the camera noise differs, as after ``skip(frames:)``.
    public mutating func nextTruth() -> FrameTruth {
        advance()
        var none: [SIMD2<Float>] = []
        let truth = placeCells(scattered: &none)
        frameIndex += 1
        noise = SimulationRandom(seed: flow.seed, stream: 2 &+ (UInt64(frameIndex) << 40))
        return truth
    }

    /// The truth of the current frame (every cell at least partly in view, the in-focus OPD
    /// map); unless `scattered` is empty, each cell's recorded scattered wave is added to it.
    private mutating func placeCells(scattered: inout [SIMD2<Float>]) -> FrameTruth {
        let fields = !scattered.isEmpty
        var opd = [Float](repeating: 0, count: flow.width * flow.height)
        var cells: [CellTruth] = []
        for index in active.indices {
            render(&active[index], field: fields)
            let cell = active[index]
            let cx = Int(cell.x.rounded()), cy = Int(cell.y.rounded())
            // A defocused cell's wave reaches the frame before its body does.
            if fields { cell.field?.add(to: &scattered, width: flow.width, height: flow.height, x: cx, y: cy) }
            guard cell.patch.add(to: &opd, width: flow.width, height: flow.height, x: cx, y: cy) else { continue }
            let e = cell.extentPixels
            let inside = cell.x - e >= 0 && cell.x + e < Double(flow.width) && cell.y - e >= 0 && cell.y + e < Double(flow.height)
            cells.append(
                CellTruth(
                    id: cell.id, cellClass: cell.cellClass, label: cell.cellClass.label, x: Double(cx), y: Double(cy),
                    extentPixels: e, fullyInside: inside, opdSumNm: cell.opdSum, focusUm: cell.focusUm,
                    velocityUmPerSecond: cell.velocityUmPerSecond, phantom: cell.phantom.hidden))
        }
        return FrameTruth(index: frameIndex, cells: cells, opdNm: opd)
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

    /// Time from the reference hologram to the frame being formed, s.
    private var secondsSinceReference: Double {
        camera.optics.referenceArm.referenceAgeSeconds + Double(frameIndex) / flow.frameRate
    }

    /// Brings the cell's OPD patch (and, with `field`, its propagated scattered wave) to its
    /// current angle; a cell that has not turned keeps what it has.
    private func render(_ cell: inout FlowingCell, field: Bool) {
        if cell.angle != cell.renderedAngle {
            let optics = camera.optics
            cell.patch = cell.phantom.rotated(by: cell.angle).render(pixelUm: optics.pixelUm, edgeSoftnessUm: optics.edgeSoftnessUm)
            cell.opdSum = cell.patch.opdNm.reduce(0.0) { $0 + Double($1) }
            cell.renderedAngle = cell.angle
            cell.field = nil
        }
        if field && cell.field == nil {
            cell.field = ScatteredField(patch: cell.patch, optics: camera.optics, propagator: cell.propagator)
        }
    }

    /// Moves every cell one frame on, drops those that left, admits new arrivals.
    private mutating func advance() {
        for i in active.indices {
            active[i].x += active[i].step
            active[i].angle += active[i].spin
        }
        active.removeAll { $0.x - $0.extentPixels > Double(flow.width) }
        guard !arrivalsStopped else { return }
        waiting += rng.poisson(arrivalsPerFrame)
        while waiting > 0, admitOne() { waiting -= 1 }
    }

    /// Draws a cell and places it just left of the field if the entrance is free and it will
    /// not run into a slower cell ahead of it before that one leaves the field.
    ///
    /// Why no overtaking: cells at different depths could pass each other, but their images
    /// would overlap in projection and the truth of that frame (which cell is where, whose OPD)
    /// would be ambiguous. So an arrival that would come closer than the gap to any cell in the
    /// field while both are in the channel waits at the entrance, as one behind a full entrance
    /// does: cells keep their order along each stretch of lane, and the flow's throughput drops
    /// slightly when slow and fast cells share a lane.
    private mutating func admitOne() -> Bool {
        let pixel = camera.optics.pixelUm
        var lane = rng
        let cellClass = drawClass(using: &lane)
        var cellRNG = SimulationRandom(seed: flow.seed, stream: 1000 + UInt64(nextID))
        let phantom = CellPhantom.random(cellClass, parameters: classParameters, debris: flow.debrisStyle, using: &cellRNG)
        let extent = phantom.extentUm / pixel
        let motion = drawMotion(of: phantom)
        let margin = Double(flow.height) * (1 - flow.laneFraction) / 2
        let y = lane.uniform(margin + min(extent, Double(flow.height) / 2 - margin), Double(flow.height) - margin - min(extent, Double(flow.height) / 2 - margin))
        // Enter anywhere in the first step's worth of track, so arrivals are not synchronised.
        let x = -extent - lane.uniform(0, motion.step)
        let gap = flow.minimumGapUm / pixel
        for other in active {
            // Closest approach along x while the cell ahead is still in the channel (speeds are
            // constant, so it is at one end of that time or zero if one would pass the other).
            let frames = max(0, (Double(flow.width) + other.extentPixels - other.x) / other.step)
            let dx0 = other.x - x, dx1 = dx0 + (other.step - motion.step) * frames
            let dx = dx0 * dx1 <= 0 ? 0 : min(abs(dx0), abs(dx1))
            let dy = other.y - y
            let needed = other.extentPixels + extent + gap
            if dx * dx + dy * dy < needed * needed { return false }
        }
        rng = lane
        let patch = phantom.render(pixelUm: pixel, edgeSoftnessUm: camera.optics.edgeSoftnessUm)
        let sum = patch.opdNm.reduce(0.0) { $0 + Double($1) }
        // The camera records propagate(in focus, −focus), on a grid padded for that distance.
        let propagator = formsFields ? ScatteredField.propagator(patchSize: patch.size, distanceUm: -motion.focusUm, optics: camera.optics) : nil
        active.append(
            FlowingCell(
                id: nextID, cellClass: cellClass, phantom: phantom, patch: patch, extentPixels: Double(patch.center), opdSum: sum,
                x: x, y: y, step: motion.step, velocityUmPerSecond: motion.velocity, focusUm: motion.focusUm, spin: motion.spin,
                propagator: propagator))
        nextID += 1
        return true
    }

    /// Where a newly drawn cell sits in the channel's depth and how it moves: its speed
    /// (µm/s, and pixels per frame), focus distance (µm) and spin (rad per frame), from a
    /// random stream of its own (so the ideal conditions draw nothing new).
    private func drawMotion(of phantom: CellPhantom) -> (velocity: Double, step: Double, focusUm: Double, spin: Double) {
        var motion = SimulationRandom(seed: flow.seed, stream: 0x1AB << 32 + UInt64(nextID))
        var depth = 0.0
        if flow.cellDepth == .random {
            // Centre at least its half-height (and the wall clearance) from both walls.
            let reach = max(0, flow.channelDepthUm / 2 - max(phantom.halfHeightUm, FlowConfiguration.wallClearanceUm))
            depth = motion.uniform(-reach, reach)
        }
        let spin = flow.rotationDegreesPerFrame == 0 ? 0 : motion.uniform(-1, 1) * flow.rotationDegreesPerFrame * .pi / 180
        let velocity = flow.velocity(atDepthUm: depth)
        // The plug flow's step is the ideal twin's, bit for bit.
        let step = flow.profile == .plug ? pixelsPerFrame : velocity / flow.frameRate / camera.optics.pixelUm
        // The focal plane is the mid-plane, moved by the optics' global defocus.
        return (velocity, step, depth - camera.optics.defocusUm, spin)
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
