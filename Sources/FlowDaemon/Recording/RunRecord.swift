import Dispatch
import FlowdConfig
import Foundation
import Protocol
import Reconstruction
import SystemSupport

/// One run on disk: `<record dir>/<run id>/cells.fcs`, `cells.rtdc`, `rejects.rtdc` and
/// `run.json`.
///
/// ``record(_:crop:)`` is called as each cell is published and only queues its event (and the
/// crop, a reference to the pipeline's array) in memory; ``flush()`` (every
/// `record.flush_interval_s`, from one thread: the recorder's) writes the queued events to the
/// FCS file, the camera table first, then converts the crops (phase, mask) and appends the same
/// cells to cells.rtdc, and the objects that were not cells (``recordRejected(_:crop:)``) to
/// rejects.rtdc. Recording never waits on the disk I/O: only the hand-over of the queues is
/// under a lock.
///
/// A .rtdc file that fails (disk full, ...) is closed at its last good flush and the run goes
/// on without it (run.json's `rtdc_error`, `rejects_error`; ``RtdcRecording``); the FCS file
/// keeps retrying as before.
final class RunRecord: @unchecked Sendable {
    // Sendable: `queue` and `cameras` are guarded by `queueLock`; `writer` and `metadata` by
    // `writeLock` (taken first when both are needed); the .rtdc files guard their own queues.

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let id: RunID
    let directory: String
    /// Monotonic ns at the start: the FCS `Time` origin.
    let startNanoseconds: UInt64
    var fcsPath: String { directory + "/cells.fcs" }
    var metadataPath: String { directory + "/run.json" }
    var rtdcPath: String { directory + "/cells.rtdc" }
    var rejectsPath: String { directory + "/rejects.rtdc" }

    /// Events queued beyond this many (a disk that keeps failing) end the recording of the run
    /// rather than memory (≈ 10 MB at 25 parameters).
    static let maxQueuedEvents = 100_000

    private let layout: CellEventLayout
    private let queueLock = NSLock()
    private var queue: [[Float]] = []
    private var cameras: [String] = []
    private var cameraIndex: [String: Int] = [:]
    /// Events queued so far (on disk, pending in the writer, or in `queue`).
    private var queued: UInt64 = 0
    /// Events queued but not on disk: in `queue`, or kept by the writer after a failed flush.
    private var backlog = 0

    private let writeLock = NSLock()
    private let writer: FCSWriter
    /// The cells with their images, and the objects that were not cells (nil: no .rtdc files).
    private let cellsRtdc: RtdcRecording?
    private let rejectsRtdc: RtdcRecording?
    private var metadata: RunMetadata
    /// Thread CPU time spent in flushes, ns (both files; run.json's `recorder_cpu_s`).
    private var flushCPUNanoseconds: UInt64 = 0
    private var camerasWritten = 0

    private static let camerasKeyword = "FLOWD_CAMERAS"

    private init(
        id: RunID, directory: String, layout: CellEventLayout, writer: FCSWriter,
        rtdc: (cells: RtdcRecording, rejects: RtdcRecording)?, metadata: RunMetadata
    ) {
        self.id = id
        self.directory = directory
        self.layout = layout
        self.writer = writer
        cellsRtdc = rtdc?.cells
        rejectsRtdc = rtdc?.rejects
        self.metadata = metadata
        startNanoseconds = DispatchTime.now().uptimeNanoseconds
    }

    /// What a run's .rtdc files are made with: the cells' features (rejects.rtdc's follow from
    /// them, ``RtdcEventLayout/rejects(optics:)``), the lab's metadata, the sample.
    struct RtdcPlan {
        var layout: RtdcEventLayout
        var lab: RecordSettings
        var sample: String
        /// The run's number since the daemon started (dclab's `experiment:run index`).
        var runIndex: Int
    }

    /// Creates the run's directory under `root` (and `root` itself if missing), an empty
    /// cells.fcs, empty cells.rtdc and rejects.rtdc (with `rtdc`) and the first run.json. `maxCameras`: how
    /// many camera names the FCS file has room for (`ingest.max_cameras`, plus "other"), each of
    /// up to `maxCameraBytes`. `config`: the effective config values; `model`: the model in
    /// service, if any.
    static func create(
        in root: String, layout: CellEventLayout, rtdc plan: RtdcPlan?, config: [String: JSONValue],
        model: RunMetadata.ModelInfo?, maxCameras: Int, maxCameraBytes: Int, startedAt date: Date = Date()
    ) throws(Failure) -> RunRecord {
        do {
            try DurableFile.makeDirectories(root)
            var bump = 0
            var id = RunID(startedAt: date)
            while try !DurableFile.makeNewDirectory(root + "/" + id.description) {
                bump += 1
                id = RunID(startedAt: date, bump: bump)
            }
            let directory = root + "/" + id.description
            var metadata = RunMetadata(
                runID: id.description, startedAt: RunMetadata.timestamp(date), config: config, model: model,
                classes: layout.classNames)
            // JSON array of names: each name's bytes doubled at worst (escaped quotes, doubled
            // FCS delimiters), plus quotes and a comma.
            let width = 2 + maxCameras * (2 * maxCameraBytes + 3)
            let writer = try FCSWriter(
                path: directory + "/cells.fcs", parameters: layout.parameters,
                keywords: [
                    ("$CYT", "flowd (holographic imaging flow cytometry)"), ("$DATE", fcsDate(date)),
                    ("$BTIM", fcsTime(date)), ("$TIMESTEP", "1"), ("FLOWD_RUN_ID", id.description),
                    ("FLOWD_CLASSES", jsonArray(layout.classNames)),
                    ("FLOWD_MODEL_SHA256", model?.sha256 ?? "none"),
                ],
                reserved: [.init(key: camerasKeyword, width: width)])
            try writer.setReserved(camerasKeyword, "[]")
            let rtdc = try plan.map { plan in
                let attributes = RtdcMetadata.attributes(
                    runID: id.description, runIndex: plan.runIndex, startedAt: date, sample: plan.sample, lab: plan.lab,
                    optics: plan.layout.optics)
                return (
                    cells: try RtdcRecording(
                        directory: directory, fileName: "cells.rtdc", layout: plan.layout, metadata: attributes),
                    rejects: try RtdcRecording(
                        directory: directory, fileName: "rejects.rtdc", layout: plan.layout.rejects,
                        metadata: attributes)
                )
            }
            if let rtdc, let plan {
                metadata.rtdcFile = rtdc.cells.fileName
                metadata.rtdcUserdef = rtdc.cells.layout.userdefFeatures
                metadata.rejectsFile = rtdc.rejects.fileName
                metadata.rejectsUserdef = rtdc.rejects.layout.userdefFeatures
                metadata.rejectReasons = ObjectRejection.allCases.map(\.rawValue)
                metadata.sample = plan.sample
            }
            let record = RunRecord(
                id: id, directory: directory, layout: layout, writer: writer, rtdc: rtdc, metadata: metadata)
            try record.writeMetadata()
            return record
        } catch {
            throw Failure(description: "cannot start a run in \(root): \(error)")
        }
    }

    /// Queues the event of a cell being published now, with its crop (OPD, nm; empty when the
    /// pipeline made none) and hologram tile (if one was cut); it reaches the disk at the next
    /// flush. Returns false when the run stopped recording (see ``maxQueuedEvents``).
    func record(_ message: CellMessage, crop: [Float], hologram: HologramTile? = nil) -> Bool {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- startNanoseconds) / 1e9
        queueLock.lock()
        defer { queueLock.unlock() }
        guard backlog < Self.maxQueuedEvents else { return false }
        let camera = cameraIndexLocked(message.camera)
        let event = layout.event(message, seconds: seconds, camera: camera)
        queue.append(event)
        cellsRtdc?.queue(
            .init(
                message: message, crop: crop, hologram: hologram, seconds: seconds, category: event[2],
                camera: camera))
        queued += 1
        backlog += 1
        return true
    }

    /// Queues an object that was not a cell for rejects.rtdc: its measurements as a cell message
    /// whose label is its ``ObjectRejection`` reason, its crop (OPD, nm) and hologram tile.
    func recordRejected(_ message: CellMessage, crop: [Float], hologram: HologramTile? = nil) {
        guard let rejectsRtdc else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- startNanoseconds) / 1e9
        let reason = ObjectRejection.allCases.firstIndex { $0.rawValue == message.label }.map(Float.init) ?? .nan
        rejectsRtdc.queue(
            .init(
                message: message, crop: crop, hologram: hologram, seconds: seconds, category: reason,
                camera: cameraNumber(message.camera)))
    }

    /// The camera's index into `cameras` (the FCS `FLOWD_CAMERAS`), adding it if new.
    private func cameraNumber(_ camera: String) -> Int {
        queueLock.lock()
        defer { queueLock.unlock() }
        return cameraIndexLocked(camera)
    }

    private func cameraIndexLocked(_ camera: String) -> Int {
        if let index = cameraIndex[camera] { return index }
        cameraIndex[camera] = cameras.count
        cameras.append(camera)
        return cameras.count - 1
    }

    /// Cells queued in this run so far.
    var cellsQueued: UInt64 {
        queueLock.lock()
        defer { queueLock.unlock() }
        return queued
    }

    /// Writes every queued event: the camera table (if it grew), then the events, then the
    /// counts, each synced (see ``FCSWriter``). On failure the events stay queued for the next
    /// flush.
    func flush() throws(Failure) {
        writeLock.lock()
        defer { writeLock.unlock() }
        try flushLocked()
    }

    /// Flushes, then replaces run.json with `counts`; with `end`, the run is over (final counts).
    func writeState(counts: CountsMessage?, end: String? = nil) throws(Failure) {
        writeLock.lock()
        defer { writeLock.unlock() }
        try flushLocked()
        metadata.counts = counts
        if let end {
            metadata.endReason = end
            metadata.endedAt = RunMetadata.timestamp(Date())
            cellsRtdc?.close()
            rejectsRtdc?.close()
        }
        try writeMetadata()
    }

    /// Records a live setting change in run.json, at the cells recorded so far.
    func note(key: String, value: JSONValue, model: RunMetadata.ModelInfo? = nil) throws(Failure) {
        writeLock.lock()
        defer { writeLock.unlock() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- startNanoseconds) / 1e9
        metadata.changes.append(
            .init(
                sinceSeconds: seconds, at: RunMetadata.timestamp(Date()), cellsBefore: cellsQueued, key: key, value: value,
                model: model))
        try flushLocked()
        try writeMetadata()
    }

    private func flushLocked() throws(Failure) {
        let cpuStart = threadCPUNanoseconds()
        defer { flushCPUNanoseconds += threadCPUNanoseconds() &- cpuStart }
        queueLock.lock()
        let events = queue
        queue.removeAll(keepingCapacity: true)
        let names = cameras
        queueLock.unlock()
        let rtdcFailure = flushRtdc()
        defer {
            queueLock.lock()
            backlog = writer.eventsPending + queue.count
            queueLock.unlock()
        }
        do {
            // First into the writer's memory (the layout makes events of the right size, so this
            // cannot fail): whatever fails below, the writer keeps them for the next flush.
            for event in events { try writer.append(event) }
            if names.count > camerasWritten {
                try writer.setReserved(Self.camerasKeyword, Self.jsonArray(names))
                camerasWritten = names.count
                metadata.cameras = names
            }
            try writer.flush()
        } catch {
            throw Failure(description: "cannot write \(fcsPath): \(error)" + (rtdcFailure.map { "; \($0)" } ?? ""))
        }
        if let rtdcFailure { throw rtdcFailure }
    }

    /// Flushes the .rtdc files and notes their events (and failures) in the metadata.
    private func flushRtdc() -> Failure? {
        let failures = [cellsRtdc, rejectsRtdc].compactMap { $0?.flush() }
        if let cellsRtdc { (metadata.rtdcEvents, metadata.rtdcError) = (cellsRtdc.events, cellsRtdc.failure) }
        if let rejectsRtdc { (metadata.rejectsEvents, metadata.rejectsError) = (rejectsRtdc.events, rejectsRtdc.failure) }
        return failures.isEmpty ? nil : Failure(description: failures.joined(separator: "; "))
    }

    private func writeMetadata() throws(Failure) {
        metadata.eventsRecorded = writer.eventsOnDisk
        metadata.recorderCPUSeconds = Double(flushCPUNanoseconds) / 1e9
        do {
            try DurableFile.replace(metadataPath, with: try metadata.jsonBytes())
        } catch {
            throw Failure(description: "cannot write \(metadataPath): \(error)")
        }
    }

    /// Events queued but not on disk yet.
    var eventsNotOnDisk: Int {
        queueLock.lock()
        defer { queueLock.unlock() }
        return backlog
    }

    private static func jsonArray(_ names: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        // An array of strings always encodes.
        return String(decoding: (try? encoder.encode(names)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// `$DATE`: dd-mmm-yyyy (FCS 3.1 §3.2.18), UTC.
    private static func fcsDate(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        return String(format: "%02d-%@-%04d", c.day!, months[c.month! - 1], c.year!)
    }

    /// `$BTIM`: hh:mm:ss.cc (FCS 3.1), UTC.
    private static func fcsTime(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%02d:%02d:%02d.%02d", c.hour!, c.minute!, c.second!, (c.nanosecond ?? 0) / 10_000_000)
    }
}
