import Foundation

/// One .rtdc file of a run (`cells.rtdc`, `rejects.rtdc`) and the events queued for it.
///
/// Events are queued (``queue(_:)``, any thread, only an append under a lock) as they are
/// recorded, and written by ``flush()`` from one thread at a time (the run's flushes). A file that
/// fails (disk full, ...) is closed at its last good flush and stops queueing, so that crops
/// never pile up in memory; the run goes on without it and run.json says why.
final class RtdcRecording: @unchecked Sendable {
    // Sendable: `pending` and `accepting` are guarded by `lock`; `writer`, `events` and
    // `failure` are only touched by the flushing thread (the run's write lock).

    /// The file's name in the run's directory, and its features.
    let fileName: String
    let layout: RtdcEventLayout
    /// Events on disk, and why the file stopped early, if it did.
    private(set) var events = 0
    private(set) var failure: String?

    private let lock = NSLock()
    private var pending: [RtdcEventLayout.Cell] = []
    private var accepting = true
    private var writer: RtdcWriter?

    /// Creates `<directory>/<fileName>` (it must not exist) with `layout`'s features and
    /// `metadata`'s attributes.
    init(
        directory: String, fileName: String, layout: RtdcEventLayout, metadata: [(String, RtdcWriter.Attribute)]
    ) throws(RtdcWriter.Failure) {
        self.fileName = fileName
        self.layout = layout
        writer = try RtdcWriter(
            path: directory + "/" + fileName, imageFeatures: layout.imageFeatures,
            scalarFeatures: layout.scalarFeatures, metadata: metadata)
    }

    /// Queues one event for the next flush (dropped, with the file, once it failed).
    func queue(_ cell: RtdcEventLayout.Cell) {
        lock.lock()
        defer { lock.unlock() }
        if accepting { pending.append(cell) }
    }

    /// Appends the queued events and flushes the file. On failure, closes it at its last flush,
    /// stops queueing and returns why.
    func flush() -> String? {
        lock.lock()
        let cells = pending
        pending.removeAll(keepingCapacity: true)
        lock.unlock()
        guard let file = writer else { return nil }
        do {
            try file.append(count: cells.count, layout.columns(of: cells, firstIndex: file.events))
            try file.flush()
            events = file.events
            return nil
        } catch {
            close()
            failure = "\(error); \(fileName) stops at \(events) events, the run goes on without it"
            return failure
        }
    }

    /// Closes the file (clears its SWMR flag: any HDF5 reader opens it normally from then on);
    /// nothing is queued any more.
    func close() {
        lock.lock()
        accepting = false
        pending.removeAll()
        lock.unlock()
        writer?.close()
        writer = nil
    }
}
