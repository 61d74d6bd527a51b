import Protocol
import Synchronization

/// The recent cells for the live dashboard, filled from the pipeline's publish path and read by
/// each open page at its own pace.
///
/// The daemon never waits for a browser: ``offer(_:crop:)`` takes the lock only if it is free
/// (a page reading at that instant makes the dashboard miss that one cell, never delays the
/// worker), and costs O(1) under it: the dot-plot ring overwrites its oldest entry and the
/// gallery keeps a reference to the crop the worker made anyway (no copy). Readers copy what
/// is new since their ``Cursor``, at most `maxCells` of it: a slow page skips ahead (decimates)
/// instead of queueing. Memory is fixed: `capacity` points and `galleryPerClass` crops a class.
public final class CellFeed: Sendable {
    /// A cell as the dot plot and the histograms show it.
    public struct Point: Sendable, Equatable {
        public let serial: UInt64
        public let label: String
        /// Features of the cell message (pg, µm²); nil when the message left them out (non-finite).
        public let dryMassPg: Double?
        public let areaUm2: Double?
    }

    /// A cell as the gallery shows it: its best view's OPD crop, nm, row-major `side × side`.
    public struct Crop: Sendable {
        public let serial: UInt64
        public let label: String
        public let camera: String
        public let cellID: UInt64
        public let opdNm: [Float]
    }

    private struct State {
        var points: [Point?]
        var nextSerial: UInt64 = 1
        /// Per label, the newest crops, oldest first.
        var crops: [String: [Crop]] = [:]
        /// Cells the feed missed because a reader held the lock (the daemon did not wait).
        var skipped: UInt64 = 0
    }

    public let capacity: Int
    public let galleryPerClass: Int
    private let state: Mutex<State>
    /// Cells skipped because the lock was busy; read by the dashboard so that the loss is visible.
    private let skippedCount = Atomic<UInt64>(0)

    public init(capacity: Int = 4096, galleryPerClass: Int = 6) {
        precondition(capacity > 0 && galleryPerClass > 0)
        self.capacity = capacity
        self.galleryPerClass = galleryPerClass
        state = Mutex(State(points: Array(repeating: nil, count: capacity)))
    }

    /// Called by a pipeline worker for each published cell; never blocks.
    public func offer(_ message: CellMessage, crop: [Float]) {
        let offered: Void? = state.withLockIfAvailable { state in
            let serial = state.nextSerial
            state.nextSerial += 1
            state.points[Int(serial % UInt64(capacity))] = Point(
                serial: serial, label: message.label, dryMassPg: message.features["dry_mass_pg"],
                areaUm2: message.features["area_um2"])
            guard !crop.isEmpty else { return }
            // In place (no copy of the class's list): at most galleryPerClass + 1 entries.
            state.crops[message.label, default: []].append(
                Crop(serial: serial, label: message.label, camera: message.camera, cellID: message.cellID, opdNm: crop))
            if state.crops[message.label]!.count > galleryPerClass { state.crops[message.label]!.removeFirst() }
        }
        if offered == nil { skippedCount.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Cells offered while the lock was busy, so not shown.
    public var skipped: UInt64 { skippedCount.load(ordering: .relaxed) }

    /// The points and crops after serial `cursor` (the newest `maxCells` points at most, oldest
    /// first), and the serial to read after next time. Start with 0.
    public func read(after cursor: UInt64, maxCells: Int) -> (points: [Point], crops: [Crop], cursor: UInt64) {
        state.withLock { state in
            let newest = state.nextSerial - 1
            let window = UInt64(min(capacity, maxCells))
            let first = max(cursor + 1, newest >= window ? newest - window + 1 : 1)
            var points: [Point] = []
            if first <= newest {
                points.reserveCapacity(Int(newest - first + 1))
                for serial in first...newest {
                    if let point = state.points[Int(serial % UInt64(capacity))] { points.append(point) }
                }
            }
            let crops = state.crops.values.flatMap { $0.filter { $0.serial > cursor } }.sorted { $0.serial < $1.serial }
            return (points, crops, max(cursor, newest))
        }
    }
}
