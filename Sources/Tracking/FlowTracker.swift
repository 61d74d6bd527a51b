import Reconstruction

/// Links the detections of consecutive frames into tracks, one per physical cell, so that each
/// cell is reported and counted exactly once however many frames show it.
///
/// Cells in a focused flow move with nearly the same velocity, so a track's next position is
/// predicted as last position + velocity × elapsed frames; detections are assigned to tracks
/// greedily in order of increasing distance to the prediction, within `gatePixels`. A track that
/// finds no detection for more than `maxGapFrames` frames is finished and returned, once. The
/// velocity is refined from the matches (exponential average), so a rough initial value is enough.
///
/// Once the field's size is known (``field``), a cell leaving the field is reported with the
/// frame it was last seen whole in, not frames later: when a track that was wholly in view is
/// seen in a frame and its predicted next box crosses the field's edge, its next appearances can
/// only be cut (and are often too cut to be detected at all), so it is returned at once. It
/// stays open, silently taking the slivers that follow, so that none of them can start a track
/// of its own; should the prediction have been wrong and the cell show whole again, that view
/// joins the reported track instead of being counted twice.
public struct FlowTracker: Sendable {
    public struct Configuration: Sendable {
        /// Expected displacement per frame, hologram pixels (x along the flow).
        public var velocity: SIMD2<Double>
        /// Largest distance between prediction and detection, pixels.
        public var gatePixels: Double
        /// Frames a track may go unseen (a missed detection) before it is finished.
        public var maxGapFrames = 1
        /// Weight of each new match in the running velocity estimate.
        public var velocityLearningRate = 0.1

        public init(velocity: SIMD2<Double>, gatePixels: Double) {
            self.velocity = velocity
            self.gatePixels = gatePixels
        }
    }

    /// One appearance of a cell.
    public struct Appearance: Sendable {
        public var frame: Int
        public var cell: DetectedCell
    }

    /// A finished track: one physical cell.
    public struct Track: Sendable {
        public var id: Int
        public var appearances: [Appearance]
        /// Whether the cell was wholly in view (not cut by the frame edge) at least once. The
        /// counting rule of flowd: each such track is one cell; the others are slivers at the
        /// start or end of a run and are not counted.
        public var wasWhollyInView: Bool { appearances.contains { !$0.cell.touchesEdge } }
        /// The appearance to report: not cut by the frame edge if possible, then the largest.
        public var best: Appearance {
            appearances.max { a, b in
                if a.cell.touchesEdge != b.cell.touchesEdge { return a.cell.touchesEdge }
                return a.cell.features.areaUm2 < b.cell.features.areaUm2
            }!
        }
    }

    public private(set) var configuration: Configuration
    /// Width and height of the frames, pixels; `nil` (unknown) finishes tracks only by their gap.
    public var field: SIMD2<Double>?
    private var active: [Track] = []
    private var nextID = 0
    /// Ids of the open tracks already returned (leaving the field).
    private var reported = Set<Int>()
    /// Number of tracks returned so far (the cell count).
    public private(set) var finishedCount = 0

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The earliest frame an open track appeared in (`nil` when none is open): what a caller
    /// keeping per-frame data for the tracks to come may not forget yet.
    public var oldestOpenFrame: Int? { active.lazy.map { $0.appearances[0].frame }.min() }

    /// Current velocity estimate, pixels per frame.
    public var velocity: SIMD2<Double> { configuration.velocity }

    /// Adds the detections of frame `frame` (frames must come in increasing order) and returns
    /// the tracks that are complete, each once: those unseen for more than `maxGapFrames` frames,
    /// and those leaving the ``field`` (see the type's description).
    public mutating func update(frame: Int, cells: [DetectedCell]) -> [Track] {
        var pairs: [(Double, Int, Int)] = []
        for (t, track) in active.enumerated() {
            let last = track.appearances.last!
            let predicted = SIMD2(last.cell.x, last.cell.y) + configuration.velocity * Double(frame - last.frame)
            for (c, cell) in cells.enumerated() {
                let d = SIMD2(cell.x, cell.y) - predicted
                let distance = (d * d).sum().squareRoot()
                if distance <= configuration.gatePixels { pairs.append((distance, t, c)) }
            }
        }
        pairs.sort { $0.0 < $1.0 }
        var trackTaken = [Bool](repeating: false, count: active.count)
        var cellTaken = [Bool](repeating: false, count: cells.count)
        for (_, t, c) in pairs where !trackTaken[t] && !cellTaken[c] {
            trackTaken[t] = true
            cellTaken[c] = true
            let last = active[t].appearances.last!
            // Learn the velocity only from whole cells: a cut cell's centroid lags or leads.
            if !last.cell.touchesEdge && !cells[c].touchesEdge {
                let step = (SIMD2(cells[c].x, cells[c].y) - SIMD2(last.cell.x, last.cell.y)) / Double(frame - last.frame)
                let rate = configuration.velocityLearningRate
                configuration.velocity = (1 - rate) * configuration.velocity + rate * step
            }
            active[t].appearances.append(Appearance(frame: frame, cell: cells[c]))
        }
        for (c, cell) in cells.enumerated() where !cellTaken[c] {
            active.append(Track(id: nextID, appearances: [Appearance(frame: frame, cell: cell)]))
            nextID += 1
        }
        var complete: [Track] = []
        var reported = self.reported
        let (maxGap, velocity, field) = (configuration.maxGapFrames, configuration.velocity, field)
        active.removeAll { track in
            let last = track.appearances.last!
            if frame - last.frame > maxGap {
                if reported.remove(track.id) == nil { complete.append(track) }
                return true
            }
            if last.frame == frame, !reported.contains(track.id), track.wasWhollyInView,
                Self.crossesEdge(last.cell.box, movedBy: velocity, field: field)
            {
                reported.insert(track.id)
                complete.append(track)
            }
            return false
        }
        self.reported = reported
        finishedCount += complete.count
        return complete
    }

    /// Whether `box`, moved by `velocity`, is no longer wholly inside `field` (`nil`: unknown).
    private static func crossesEdge(_ box: PixelBox, movedBy velocity: SIMD2<Double>, field: SIMD2<Double>?) -> Bool {
        guard let field else { return false }
        let x = Double(box.x) + velocity.x, y = Double(box.y) + velocity.y
        return x < 0 || y < 0 || x + Double(box.width) > field.x || y + Double(box.height) > field.y
    }

    /// Ends every open track (at the end of a run) and returns those not returned before.
    public mutating func finish() -> [Track] {
        let ended = active.filter { !reported.contains($0.id) }
        active = []
        reported = []
        finishedCount += ended.count
        return ended
    }
}
