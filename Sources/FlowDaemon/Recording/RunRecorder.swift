import Dispatch
import FlowdConfig
import Logging
import Protocol
import Reconstruction
import Synchronization

/// The durable record of every published cell: one ``RunRecord`` at a time under `record.dir`.
///
/// The invariant it keeps with ``CellTally``: a run's FCS events = the `cell` messages published
/// during it = its counts' total. Cells are recorded inside the tally's count step, and a new
/// run takes over inside the tally's reset, so no cell straddles two runs.
///
/// Recording never stops classification: when the directory cannot be written (permissions,
/// disk full), the error is logged, counted (``errors``, and ``unrecorded`` for each cell not
/// recorded), and the cells keep being published.
final class RunRecorder: Sendable {
    /// The directory that holds the runs.
    let root: String
    let layout: CellEventLayout
    /// The features of each run's cells.rtdc; nil: no .rtdc file.
    let rtdcLayout: RtdcEventLayout?
    /// The lab's metadata for the .rtdc files (`record.*`).
    let lab: RecordSettings
    /// Failed record operations (creating a run, a flush, writing run.json).
    let errors = Atomic<UInt64>(0)
    /// Published cells that are in no run's FCS file (no run could be started, or a run's
    /// backlog of unwritten events was full).
    let unrecorded = Atomic<UInt64>(0)

    private let maxCameras: Int
    private let maxCameraBytes: Int
    private let logger: Logger
    private let current = Mutex<RunRecord?>(nil)
    /// Runs started so far (the next run's dclab `run index` is this plus one).
    private let runsStarted = Mutex(0)
    /// The last failure's message, until an operation succeeds again (for `status`, and so that
    /// a failure repeated at every flush is logged once).
    private let failure = Mutex<String?>(nil)

    /// `maxCameras`: camera names a run must have room for; `maxCameraBytes`: the longest.
    init(
        root: String, layout: CellEventLayout, rtdcLayout: RtdcEventLayout?, lab: RecordSettings = RecordSettings(),
        maxCameras: Int, maxCameraBytes: Int, logger: Logger
    ) {
        self.root = root
        self.layout = layout
        self.rtdcLayout = rtdcLayout
        self.lab = lab
        self.maxCameras = maxCameras
        self.maxCameraBytes = maxCameraBytes
        self.logger = logger
    }

    /// The run being recorded, if any.
    var run: RunRecord? { current.withLock { $0 } }

    /// The last failure, while it has not been followed by a success.
    var lastFailure: String? { failure.withLock { $0 } }

    /// Called as each cell is published, inside ``CellTally/count(_:sending:)``, with the crop
    /// the classifier saw (OPD, nm) and its hologram tile (if one was cut): only queued here,
    /// written by ``flush()``.
    func record(_ message: CellMessage, crop: [Float], hologram: HologramTile? = nil) {
        guard let run = current.withLock({ $0 }), run.record(message, crop: crop, hologram: hologram) else {
            unrecorded.add(1, ordering: .relaxed)
            return
        }
    }

    /// Called as an object that is not a cell is counted, inside
    /// ``CellTally/countRejected(_:recording:)``: queued for the run's rejects.rtdc.
    func recordRejected(_ message: CellMessage, crop: [Float], hologram: HologramTile? = nil) {
        current.withLock { $0 }?.recordRejected(message, crop: crop, hologram: hologram)
    }

    /// Starts a new run: creates its directory and files, then (atomically with the reset of the
    /// cell counts) makes it the one cells go to, then ends the previous run with its final
    /// counts. If the new run cannot be created, nothing changes and the error is returned.
    /// - Parameters:
    ///   - config: the effective config values, for run.json.
    ///   - model: the model in service.
    ///   - counts: the counts whose cells restart with the run.
    ///   - sample: the run's sample name; nil: `record.sample`.
    @discardableResult
    func startRun(
        config: [String: JSONValue], model: RunMetadata.ModelInfo?, counts: CountsSource, sample: String? = nil
    ) -> Result<RunRecord, RunRecord.Failure> {
        let next: RunRecord
        do {
            let runIndex = runsStarted.withLock { $0 + 1 }
            next = try RunRecord.create(
                in: root, layout: layout,
                rtdc: rtdcLayout.map { .init(layout: $0, lab: lab, sample: sample ?? lab.sample, runIndex: runIndex) },
                config: config, model: model, maxCameras: maxCameras, maxCameraBytes: maxCameraBytes)
            runsStarted.withLock { $0 = runIndex }
        } catch {
            failed(error)
            return .failure(error)
        }
        let (previous, final) = counts.cells.reset(at: DispatchTime.now().uptimeNanoseconds) { cells in
            let previous = current.withLock { current in
                let previous = current
                current = next
                return previous
            }
            return (previous, counts.message(cells: cells, at: DispatchTime.now().uptimeNanoseconds, final: true))
        }
        if let previous { end(previous, counts: final, reason: "new-run") }
        logger.info("recording run \(next.id) in \(next.directory)")
        return .success(next)
    }

    /// Writes the queued cells of the current run (every `record.flush_interval_s`).
    func flush() {
        guard let run else { return }
        attempt { () throws(RunRecord.Failure) in try run.flush() }
    }

    /// Writes the current run's cells and run.json with `counts`, the counts so far.
    func snapshot(counts: CountsMessage) -> Result<RunRecord, RunRecord.Failure> {
        guard let run else {
            return .failure(.init(description: "no run is being recorded: \(lastFailure ?? "recording is off")"))
        }
        do {
            try run.writeState(counts: counts)
            succeeded()
            return .success(run)
        } catch {
            failed(error)
            return .failure(error)
        }
    }

    /// Records a live setting change in the current run's run.json.
    func note(key: String, value: JSONValue, model: RunMetadata.ModelInfo? = nil) {
        guard let run else { return }
        attempt { () throws(RunRecord.Failure) in try run.note(key: key, value: value, model: model) }
    }

    /// At shutdown, once every cell is published: ends the run with the final `counts`.
    func finish(counts final: CountsMessage) {
        guard let run = current.withLock({ current in
            defer { current = nil }
            return current
        }) else { return }
        end(run, counts: final, reason: "stopped")
    }

    private func end(_ run: RunRecord, counts: CountsMessage, reason: String) {
        attempt { () throws(RunRecord.Failure) in try run.writeState(counts: counts, end: reason) }
        let lost = run.eventsNotOnDisk
        if lost > 0 {
            unrecorded.add(UInt64(lost), ordering: .relaxed)
            logger.error("run \(run.id) ended with \(lost) cell(s) not written to \(run.fcsPath)")
        }
        logger.info("run \(run.id) ended (\(reason)): \(counts.cells.total) cells in \(run.fcsPath)")
    }

    private func attempt(_ operation: () throws(RunRecord.Failure) -> Void) {
        do {
            try operation()
            succeeded()
        } catch {
            failed(error)
        }
    }

    private func failed(_ error: RunRecord.Failure) {
        errors.add(1, ordering: .relaxed)
        let repeated = failure.withLock { last in
            defer { last = error.description }
            return last == error.description
        }
        if !repeated {
            logger.error("recording: \(error); cells are still published (see flowd_record_errors_total)")
        }
    }

    private func succeeded() {
        if let recovered = failure.withLock({ last in
            defer { last = nil }
            return last
        }) {
            logger.notice("recording works again (after: \(recovered))")
        }
    }
}
