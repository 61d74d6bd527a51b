import Dispatch
import FlowdConfig
import Foundation
import Protocol

/// One run on disk: `<record dir>/<run id>/cells.fcs`, `cells.rtdc` and `run.json`.
///
/// ``record(_:crop:)`` is called as each cell is published and only queues its event (and the
/// crop, a reference to the pipeline's array) in memory; ``flush()`` (every
/// `record.flush_interval_s`, from one thread: the recorder's) writes the queued events to the
/// FCS file, the camera table first, then converts the crops (phase, mask) and appends the same
/// cells to the .rtdc file. The two never wait on each other's disk I/O: only the hand-over of
/// the queue is under the shared lock.
///
/// A .rtdc file that fails (disk full, ...) is closed at its last good flush and the run goes
/// on without it (run.json's `rtdc_error`), so that crops never pile up in memory; the FCS file
/// keeps retrying as before.
final class RunRecord: @unchecked Sendable {
    // Sendable: `queue`, `cells` and `cameras` are guarded by `queueLock`; `writer`, `rtdc`
    // and `metadata` by `writeLock` (taken first when both are needed).

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

    /// Events queued beyond this many (a disk that keeps failing) end the recording of the run
    /// rather than memory (≈ 10 MB at 25 parameters).
    static let maxQueuedEvents = 100_000

    private let layout: CellEventLayout
    private let queueLock = NSLock()
    private var queue: [[Float]] = []
    /// The cells queued for the .rtdc file (only while it is being written).
    private var cells: [RtdcEventLayout.Cell] = []
    private var recordsImages: Bool
    private var cameras: [String] = []
    private var cameraIndex: [String: Int] = [:]
    /// Events queued so far (on disk, pending in the writer, or in `queue`).
    private var queued: UInt64 = 0
    /// Events queued but not on disk: in `queue`, or kept by the writer after a failed flush.
    private var backlog = 0

    private let writeLock = NSLock()
    private let writer: FCSWriter
    private var rtdc: (writer: RtdcWriter, layout: RtdcEventLayout)?
    private var metadata: RunMetadata
    /// Thread CPU time spent in flushes, ns (both files; run.json's `recorder_cpu_s`).
    private var flushCPUNanoseconds: UInt64 = 0
    private var camerasWritten = 0

    private static let camerasKeyword = "FLOWD_CAMERAS"

    private init(
        id: RunID, directory: String, layout: CellEventLayout, writer: FCSWriter,
        rtdc: (writer: RtdcWriter, layout: RtdcEventLayout)?, metadata: RunMetadata
    ) {
        self.id = id
        self.directory = directory
        self.layout = layout
        self.writer = writer
        self.rtdc = rtdc
        recordsImages = rtdc != nil
        self.metadata = metadata
        startNanoseconds = DispatchTime.now().uptimeNanoseconds
    }

    /// What a run's cells.rtdc is made with: its features, the lab's metadata, the sample.
    struct RtdcPlan {
        var layout: RtdcEventLayout
        var lab: RecordSettings
        var sample: String
        /// The run's number since the daemon started (dclab's `experiment:run index`).
        var runIndex: Int
    }

    /// Creates the run's directory under `root` (and `root` itself if missing), an empty
    /// cells.fcs, an empty cells.rtdc (with `rtdc`) and the first run.json. `maxCameras`: how
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
                let writer = try RtdcWriter(
                    path: directory + "/cells.rtdc", imageSize: plan.layout.optics.cropSize,
                    imageFeatures: plan.layout.imageFeatures, scalarFeatures: plan.layout.scalarFeatures,
                    metadata: RtdcMetadata.attributes(
                        runID: id.description, runIndex: plan.runIndex, startedAt: date, sample: plan.sample,
                        lab: plan.lab, optics: plan.layout.optics))
                return (writer: writer, layout: plan.layout)
            }
            if let plan {
                metadata.rtdcFile = "cells.rtdc"
                metadata.sample = plan.sample
                metadata.rtdcUserdef = plan.layout.userdefFeatures
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
    /// pipeline made none); it reaches the disk at the next flush. Returns false when the run
    /// stopped recording (see ``maxQueuedEvents``).
    func record(_ message: CellMessage, crop: [Float]) -> Bool {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- startNanoseconds) / 1e9
        queueLock.lock()
        defer { queueLock.unlock() }
        guard backlog < Self.maxQueuedEvents else { return false }
        let camera: Int
        if let index = cameraIndex[message.camera] {
            camera = index
        } else {
            camera = cameras.count
            cameraIndex[message.camera] = camera
            cameras.append(message.camera)
        }
        let event = layout.event(message, seconds: seconds, camera: camera)
        queue.append(event)
        if recordsImages {
            cells.append(.init(message: message, crop: crop, seconds: seconds, classIndex: event[2], camera: camera))
        }
        queued += 1
        backlog += 1
        return true
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
            // Clears the file's SWMR flag: any HDF5 reader opens it normally from now on.
            rtdc?.writer.close()
            rtdc = nil
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
        let cpuStart = Self.threadCPUNanoseconds()
        defer { flushCPUNanoseconds += Self.threadCPUNanoseconds() &- cpuStart }
        queueLock.lock()
        let events = queue
        queue.removeAll(keepingCapacity: true)
        let images = cells
        cells.removeAll(keepingCapacity: true)
        let names = cameras
        queueLock.unlock()
        let rtdcFailure = appendToRtdc(images)
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

    /// Appends `images` to the .rtdc file and flushes it; on failure, closes it at its last
    /// flush, stops queueing crops, and returns the failure (also in run.json).
    private func appendToRtdc(_ images: [RtdcEventLayout.Cell]) -> Failure? {
        guard let (file, layout) = rtdc else { return nil }
        do {
            try file.append(count: images.count, layout.columns(of: images, firstIndex: file.events))
            try file.flush()
            metadata.rtdcEvents = file.events
            return nil
        } catch {
            file.close()
            rtdc = nil
            queueLock.lock()
            recordsImages = false
            cells.removeAll()
            queueLock.unlock()
            let failure = Failure(description: "\(error); cells.rtdc stops at \(file.events) cells, the run goes on without it")
            metadata.rtdcError = failure.description
            return failure
        }
    }

    /// CPU time this thread has used, ns.
    private static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
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
