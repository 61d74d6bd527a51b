import Foundation
import Reconstruction

/// Links the detections of consecutive frames into tracks, one per physical cell, so that each
/// cell is reported and counted exactly once however many frames show it.
///
/// Cells in a channel do not share one speed: in laminar (Poiseuille) flow a cell's speed depends
/// on its depth, so speeds in one frame differ by a factor of 2 or more. Each track therefore
/// keeps its own velocity (the mean of its steps between whole appearances), and its next
/// position is predicted as last position + its velocity × elapsed frames, within `gatePixels`.
/// A track seen once has no velocity yet: its next appearance is searched downstream, anywhere
/// in a corridor along the flow (x) from `slowest` to `fastest` times the flow's typical
/// displacement per frame and within `gatePixels` across it. The typical displacement is the
/// median of the velocities of the last tracks that had one (``flowVelocity``), seeded by the
/// configured guess; without a guess, until the first track has a velocity, the corridor is every
/// downstream position up to half the field. Detections are assigned greedily in order of
/// increasing normalised distance to their prediction. A track that finds no detection for more
/// than `maxGapFrames` frames is finished and returned, once.
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
        /// A guess of the flow's displacement per frame, hologram pixels (x along the flow);
        /// `nil`: learned from the first tracks.
        public var velocity: SIMD2<Double>?
        /// Largest distance between prediction and detection, pixels (across the flow for a
        /// track's first step).
        public var gatePixels: Double
        /// Frames a track may go unseen (a missed detection) before it is finished.
        public var maxGapFrames = 1
        /// A track's first step may be this fraction of the flow's typical displacement, at
        /// least, and `fastest` times it at most: laminar flow spreads speeds over about a
        /// factor of 2 either side of the typical one.
        public var slowest = 0.35
        public var fastest = 2.5

        public init(velocity: SIMD2<Double>?, gatePixels: Double) {
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
        /// Its velocity, pixels per frame: the mean step between its whole appearances (a cut
        /// cell's centroid lags or leads); `nil` until it has two.
        public var velocity: SIMD2<Double>? {
            let whole = appearances.filter { !$0.cell.touchesEdge }
            guard let first = whole.first, let last = whole.last, last.frame > first.frame else { return nil }
            return (SIMD2(last.cell.x, last.cell.y) - SIMD2(first.cell.x, first.cell.y)) / Double(last.frame - first.frame)
        }
        /// Whether the cell was wholly in view (not cut by the frame edge) at least once. The
        /// counting rule of flowd: each such track is one cell; the others are slivers at the
        /// start or end of a run and are not counted.
        public var wasWhollyInView: Bool { appearances.contains { !$0.cell.touchesEdge } }
        /// Why the object is not a cell, by majority of its whole appearances (a tie, or no
        /// whole appearance, counts as a cell); `nil` for a cell.
        public var rejection: ObjectRejection? {
            let whole = appearances.filter { !$0.cell.touchesEdge }
            let rejected = whole.compactMap(\.cell.rejection)
            guard rejected.count * 2 > whole.count else { return nil }
            // The most frequent reason (ties: the first in the list of reasons).
            return ObjectRejection.allCases.max { a, b in
                rejected.count(where: { $0 == a }) < rejected.count(where: { $0 == b })
            }
        }
        /// The appearance to report: a cell's (not a rejected object's) if possible, not cut by the
        /// frame edge if possible, then the largest.
        public var best: Appearance {
            appearances.max { a, b in
                if (a.cell.rejection == nil) != (b.cell.rejection == nil) { return a.cell.rejection != nil }
                if a.cell.touchesEdge != b.cell.touchesEdge { return a.cell.touchesEdge }
                return a.cell.features.areaUm2 < b.cell.features.areaUm2
            }!
        }
    }

    public let configuration: Configuration
    /// The velocities of the last tracks that had one, for ``flowVelocity``.
    private var recentVelocities: [SIMD2<Double>] = []
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

    /// The flow's typical displacement per frame, pixels: the median (per axis) of the last 15
    /// track velocities, else the configured guess; `nil` while neither exists.
    public var flowVelocity: SIMD2<Double>? {
        guard !recentVelocities.isEmpty else { return configuration.velocity }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return SIMD2(median(recentVelocities.map(\.x)), median(recentVelocities.map(\.y)))
    }

    /// Where each open track's cell is expected in `frame` (its last appearance moved on by the
    /// track's velocity, else the flow's), with the focus distance that appearance was refocused
    /// to: the ``FocusHint``s for reconstructing that frame. A track whose last appearance was
    /// not refocused gives none.
    public func focusHints(atFrame frame: Int) -> [FocusHint] {
        active.compactMap { track in
            guard let last = track.appearances.last, let focus = last.cell.focusUm else { return nil }
            let step = track.velocity ?? flowVelocity ?? .zero
            let expected = SIMD2(last.cell.x, last.cell.y) + step * Double(frame - last.frame)
            return FocusHint(x: expected.x, y: expected.y, focusUm: focus)
        }
    }

    /// Adds the detections of frame `frame` (frames must come in increasing order) and returns
    /// the tracks that are complete, each once: those unseen for more than `maxGapFrames` frames,
    /// and those leaving the ``field`` (see the type's description).
    public mutating func update(frame: Int, cells: [DetectedCell]) -> [Track] {
        var pairs: [(Double, Int, Int)] = []
        let flow = flowVelocity
        for (t, track) in active.enumerated() {
            let last = track.appearances.last!
            let elapsed = Double(frame - last.frame)
            for (c, cell) in cells.enumerated() {
                let step = (SIMD2(cell.x, cell.y) - SIMD2(last.cell.x, last.cell.y)) / elapsed
                if let cost = cost(of: step, for: track, flow: flow, elapsed: elapsed) { pairs.append((cost, t, c)) }
            }
        }
        pairs.sort { $0.0 < $1.0 }
        var trackTaken = [Bool](repeating: false, count: active.count)
        var cellTaken = [Bool](repeating: false, count: cells.count)
        for (_, t, c) in pairs where !trackTaken[t] && !cellTaken[c] {
            trackTaken[t] = true
            cellTaken[c] = true
            let hadVelocity = active[t].velocity != nil
            active[t].appearances.append(Appearance(frame: frame, cell: cells[c]))
            if !hadVelocity, let velocity = active[t].velocity {
                recentVelocities.append(velocity)
                if recentVelocities.count > 15 { recentVelocities.removeFirst() }
            }
        }
        for (c, cell) in cells.enumerated() where !cellTaken[c] {
            active.append(Track(id: nextID, appearances: [Appearance(frame: frame, cell: cell)]))
            nextID += 1
        }
        var complete: [Track] = []
        var reported = self.reported
        let (maxGap, field) = (configuration.maxGapFrames, field)
        active.removeAll { track in
            let last = track.appearances.last!
            if frame - last.frame > maxGap {
                if reported.remove(track.id) == nil { complete.append(track) }
                return true
            }
            if last.frame == frame, !reported.contains(track.id), track.wasWhollyInView,
                let velocity = track.velocity ?? flow, Self.crossesEdge(last.cell.box, movedBy: velocity, field: field)
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

    /// How far (normalised: ≤ 1 is inside the gate) a detection `step` pixels per frame from
    /// `track`'s last position lies from where the track should be; `nil` outside the gate.
    private func cost(of step: SIMD2<Double>, for track: Track, flow: SIMD2<Double>?, elapsed: Double) -> Double? {
        let gate = configuration.gatePixels / elapsed
        if let velocity = track.velocity {
            let d = step - velocity
            let cost = (d * d).sum().squareRoot() / gate
            return cost <= 1 ? cost : nil
        }
        // First step: downstream, within the corridor of plausible speeds, close to the flow's line.
        let lateral = abs(step.y - (flow?.y ?? 0)) / gate
        guard lateral <= 1, step.x > 0 else { return nil }
        guard let flow, flow.x > 0 else {
            // No speed known yet: any downstream step up to half the field, nearest first.
            let reach = (field?.x ?? .infinity) / 2
            return step.x <= reach ? step.x / reach + lateral : nil
        }
        let along = step.x / flow.x
        guard along >= configuration.slowest, along <= configuration.fastest else { return nil }
        // In log-speed, so that half and twice the typical speed are equally far.
        return abs(log(along)) / log(configuration.fastest) + lateral
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
