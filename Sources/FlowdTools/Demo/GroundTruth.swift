import Simulator

/// The twin's ground truth of a run (truth.jsonl), as `flowd demo` scores the daemon with it.
struct GroundTruth {
    /// The cells at least partly in view, per frame index.
    let frames: [Int: [CellTruth]]
    /// The cells the daemon should count, with their class: cells of the labelled classes wholly
    /// in view (not cut by the frame edge) in at least one frame. That is flowd's counting rule
    /// (`FlowTracker.Track.wasWhollyInView`, docs/protocol.md): slivers entering or leaving at
    /// the start or the end of a run are not cells.
    let countable: [Int: CellClass]
    /// The objects that are not cells (debris, doublets, sperm) wholly in view at least once:
    /// what the daemon should count under `objects_rejected_by_reason`, not as cells.
    let nonCells: [Int: CellClass]

    init(frames: [Int: [CellTruth]]) {
        self.frames = frames
        var countable: [Int: CellClass] = [:], nonCells: [Int: CellClass] = [:]
        for cells in frames.values {
            for cell in cells where cell.fullyInside {
                if cell.label >= 0 { countable[cell.id] = cell.cellClass } else { nonCells[cell.id] = cell.cellClass }
            }
        }
        self.countable = countable
        self.nonCells = nonCells
    }

    /// The true cell under a published cell: in frame `frame` (the `seq` of the cell's best
    /// appearance), the cell whose centre is nearest to the published centroid (`x`, `y`,
    /// pixels), if the centroid lies within that cell's extent (the radius of the circle that
    /// holds the whole cell). `nil` when no true cell is there: the daemon counted something
    /// that is not a cell.
    func cell(frame: Int, x: Double, y: Double) -> CellTruth? {
        var best: (cell: CellTruth, distance: Double)?
        for cell in frames[frame] ?? [] {
            let distance = ((cell.x - x) * (cell.x - x) + (cell.y - y) * (cell.y - y)).squareRoot()
            if distance < cell.extentPixels, distance < best?.distance ?? .infinity { best = (cell, distance) }
        }
        return best?.cell
    }
}
