import Dispatch
import Protocol
import Simulator
import Synchronization

/// The digital twin's holograms for `flowd bench pipeline`: one stretch of flow, rendered before
/// the timed run and replayed in a loop by the camera.
///
/// Why a pool: the twin forms ≈ 17 holograms/s per core at 1024², far below the rates the
/// pipeline is measured at. The pool is rendered in parallel segments that join into one
/// continuous flow (``DigitalTwin/skip(frames:)``), and the loop has no seam either: the flow
/// starts from an empty channel and, one field crossing before the end, stops admitting cells
/// (``DigitalTwin/stopArrivals()``), so that the last frame is as empty as the first. Were the
/// channel full at the wrap, every cell in view would vanish at once: their tracks would end by
/// the tracker's gap rule, frames later than a cell that leaves, and lengthen the latency tail
/// the benchmark measures. The cost: the ramps at both ends (≈ 6 frames each) hold fewer cells.
struct TwinFramePool: Sendable {
    let frames: [Frame]
    /// Per frame, the ground truth of every cell at least partly in view.
    let truth: [[CellTruth]]
    /// Mean number of cells at least partly in view per frame.
    let cellsInViewPerFrame: Double
    /// Cell displacement between frames, pixels: what flowd's tracker must be told.
    let pixelsPerFrame: Double

    /// Renders about `count` frames of `size`² 8-bit holograms at `concentration` cells/µL, in
    /// `segments` parallel parts (a few more frames at the end if cells are still leaving), at
    /// the conditions of `flow` and `optics` (``TwinConditions``; ideal by default).
    init(
        size: Int, count: Int, concentration: Double, segments: Int, flow template: FlowConfiguration = FlowConfiguration(),
        optics: RigOptics = RigOptics()
    ) throws {
        var flow = template
        (flow.width, flow.height, flow.concentrationPerMicrolitre) = (size, size, concentration)
        flow.startFlowing = false
        let first = try DigitalTwin(flow: flow, optics: optics)
        // Arrivals stop one field crossing of the slowest cell (and a frame of margin) before the end.
        let stopAt = max(0, count - first.crossingFrames - 1)
        let parts = max(1, min(segments, count))
        // Only the cells of each frame's truth are kept: its OPD map is 4 bytes per pixel.
        let rendered = Mutex([[(Frame, [CellTruth])]](repeating: [], count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let start = count * part / parts, end = count * (part + 1) / parts
            var twin = first
            if start > stopAt {
                twin.skip(frames: stopAt)
                twin.stopArrivals()
                twin.skip(frames: start - stopAt)
            } else {
                twin.skip(frames: start)
            }
            var shots: [(Frame, [CellTruth])] = []
            var index = start
            // The last part goes on until the channel is empty.
            while index < end || (part == parts - 1 && !twin.isEmpty) {
                if index == stopAt { twin.stopArrivals() }
                let (frame, truth) = twin.nextFrame()
                shots.append((frame, truth.cells))
                index += 1
            }
            rendered.withLock { $0[part] = shots }
        }
        let shots = rendered.withLock { $0.flatMap { $0 } }
        frames = shots.map(\.0)
        truth = shots.map(\.1)
        cellsInViewPerFrame = Double(truth.reduce(0) { $0 + $1.count }) / Double(max(1, frames.count))
        pixelsPerFrame = first.pixelsPerFrame
    }

    /// The stream's frame `index`: the pool played in a loop.
    func frame(_ index: Int) -> Frame { frames[index % frames.count] }

    /// The cells the counting rule finds in the first `sent` frames of the stream: per pass over
    /// the pool, the distinct cells wholly in view at least once.
    func trueCellCount(sent: Int) -> Int {
        var total = 0, index = 0
        while index < sent {
            let passEnd = min(sent, (index / frames.count + 1) * frames.count)
            var ids = Set<Int>()
            for i in index..<passEnd { ids.formUnion(truth[i % frames.count].filter(\.fullyInside).map(\.id)) }
            total += ids.count
            index = passEnd
        }
        return total
    }

    /// The true cell a `cell` message reports, and the pass over the pool it was sent in: the
    /// cell of stream frame `seq` nearest to the message's centroid, if one is within
    /// `maxDistance` pixels (a detection without a true cell, or one that merged two, is left
    /// unmatched). Within one pass a true cell's id is one physical cell.
    func trueCell(seq: Int, x: Double, y: Double, maxDistance: Double) -> (cell: CellTruth, pass: Int)? {
        func squaredDistance(_ cell: CellTruth) -> Double { (cell.x - x) * (cell.x - x) + (cell.y - y) * (cell.y - y) }
        guard let nearest = truth[seq % frames.count].min(by: { squaredDistance($0) < squaredDistance($1) }),
            squaredDistance(nearest) <= maxDistance * maxDistance
        else { return nil }
        return (nearest, seq / frames.count)
    }
}
