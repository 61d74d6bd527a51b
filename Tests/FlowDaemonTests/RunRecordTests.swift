import Dispatch
import FlowdConfig
import Foundation
import InferenceTestSupport
import Logging
import Protocol
import Reconstruction
import Synchronization
import Testing

@testable import FlowDaemon

private func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("flowd-runs-\(UUID())").path
}

private func recorder(root: String, classes: [String] = []) -> RunRecorder {
    RunRecorder(
        root: root, layout: CellEventLayout(modelClasses: classes, maxCameras: 4),
        rtdcLayout: RtdcEventLayout(modelClasses: classes, optics: testOptics), maxCameras: 5, maxCameraBytes: 64,
        logger: Logger(label: "test"))
}

/// Crops of 8 × 8 pixels of 0.5 µm at 633 nm: small enough to write many in a test.
private let testOptics = RtdcEventLayout.Optics(
    cropSize: 8, cropPixelUm: 0.5, hologramPixelUm: 0.1, wavelengthNm: 633, maskThresholdNm: 20, mediumIndex: 1.335)

/// A crop with a 4 × 4 cell of 100 nm in its centre.
private let testCrop: [Float] = (0..<64).map { index in (2..<6).contains(index % 8) && (2..<6).contains(index / 8) ? 100 : 0 }

private func runJSON(_ run: RunRecord) throws -> RunMetadata {
    try JSONDecoder().decode(RunMetadata.self, from: Data(contentsOf: URL(fileURLWithPath: run.metadataPath)))
}

private func cell(camera: String, label: String, probabilities: [String: Double] = [:]) -> CellMessage {
    CellMessage(
        camera: camera, cellID: 0, seq: nil, tNanoseconds: nil, xPixels: 1, yPixels: 2, bbox: [0, 0, 3, 3], label: label,
        probabilities: probabilities, features: ["area_um2": 80, "dry_mass_pg": 30, "focus_um": -3.5], framesSeen: 4,
        latencyMilliseconds: 2.5)
}

/// A value another thread sets.
final class Later<Value: Sendable>: Sendable {
    private let box = Mutex<Value?>(nil)
    func set(_ value: Value?) { box.withLock { $0 = value } }
    var value: Value? { box.withLock { $0 } }
}

@Suite("Run records: <record dir>/<run id>/cells.fcs, cells.rtdc, rejects.rtdc and run.json")
struct RunRecordTests {
    @Test("run ids are the UTC start second and millisecond, so that they sort in start order")
    func runIDs() {
        let date = Date(timeIntervalSince1970: 1_795_753_800.042)  // 2026-11-27 04:30:00.042 UTC
        #expect(RunID(startedAt: date).description == "20261127T043000Z-042")
        #expect(RunID(startedAt: date, bump: 1).description == "20261127T043000Z-043")
        #expect(RunID(startedAt: date, bump: 958).description == "20261127T043001Z-000")
        let ids = (0..<50).map { RunID(startedAt: date.addingTimeInterval(Double($0) * 0.37)).description }
        #expect(ids == ids.sorted())
    }

    @Test("the record directory: record.dir, else systemd's STATE_DIRECTORY, else XDG_STATE_HOME, else ~/.local/state")
    func recordDirectory() {
        #expect(RecordDirectory.resolve(configured: "/data/runs", environment: ["STATE_DIRECTORY": "/var/lib/flowd"]) == "/data/runs")
        #expect(RecordDirectory.resolve(configured: "", environment: ["STATE_DIRECTORY": "/var/lib/flowd:/var/lib/other"])
            == "/var/lib/flowd")
        #expect(RecordDirectory.resolve(configured: "", environment: ["XDG_STATE_HOME": "/home/a/.state", "HOME": "/home/a"])
            == "/home/a/.state/flowd")
        #expect(RecordDirectory.resolve(configured: "", environment: ["XDG_STATE_HOME": "relative", "HOME": "/home/a"])
            == "/home/a/.local/state/flowd")
        #expect(RecordDirectory.resolve(configured: "", environment: ["HOME": "/home/a"]) == "/home/a/.local/state/flowd")
    }

    @Test("run.json is written at the start and replaced at the end with the final counts; nothing half-written is left")
    func runJSONLifecycle() throws {
        let root = temporaryDirectory()
        let cells = CellTally(startNanoseconds: 0)
        let counts = CountsSource(counters: .init(), cells: cells, startNanoseconds: 0)
        let recorder = recorder(root: root, classes: ["a", "b"])
        let model = RunMetadata.ModelInfo(path: "/m.safetensors", sha256: String(repeating: "ab", count: 32), classes: ["a", "b"])
        let run = try recorder.startRun(config: DaemonConfig().effectiveValues, model: model, counts: counts).get()
        #expect(run.directory == root + "/" + run.id.description)
        let started = try runJSON(run)
        #expect(started.runID == run.id.description && started.endedAt == nil && started.counts == nil)
        #expect(started.model == model)
        #expect(started.classes == ["a", "b", "unknown", "unclassified"])
        #expect(started.config["model.path"] == .string(""))
        #expect(started.config.count == ConfigKey.all.count)

        cells.count("a") { recorder.record(cell(camera: "cam0", label: "a", probabilities: ["a": 0.9, "b": 0.1]), crop: testCrop) }
        for _ in 0..<2 {
            cells.countRejected("elongated") { recorder.recordRejected(cell(camera: "cam1", label: "elongated"), crop: testCrop) }
        }
        recorder.finish(counts: counts.current(final: true))
        let ended = try runJSON(run)
        #expect(ended.endReason == "stopped" && ended.endedAt != nil)
        #expect(ended.counts?.final == true && ended.counts?.cells.total == 1)
        #expect(ended.counts?.cells.objectsRejectedByReason == ["elongated": 2])
        #expect(ended.eventsRecorded == 1 && ended.cameras == ["cam0", "cam1"])
        #expect(ended.rtdcFile == "cells.rtdc" && ended.rtdcEvents == 1 && ended.rtdcError == nil)
        #expect(ended.rejectsFile == "rejects.rtdc" && ended.rejectsEvents == 2 && ended.rejectsError == nil)
        #expect(ended.rejectReasons == ObjectRejection.allCases.map(\.rawValue) && ended.rejectsUserdef?.last == "reason")
        #expect(ended.sample == RecordSettings().sample)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.directory).sorted() == ["cells.fcs", "cells.rtdc", "rejects.rtdc", "run.json"])
    }

    @Test("each event holds the cell's camera, class index, probabilities, features, focus and speed, frames seen and latency")
    func eventLayout() throws {
        let root = temporaryDirectory()
        let cells = CellTally(startNanoseconds: 0)
        let counts = CountsSource(counters: .init(), cells: cells, startNanoseconds: 0)
        let recorder = recorder(root: root, classes: ["a", "b"])
        let run = try recorder.startRun(config: [:], model: nil, counts: counts).get()
        for (camera, label) in [("cam0", "b"), ("cam1", "unknown"), ("cam0", "unclassified")] {
            cells.count(label) { recorder.record(cell(camera: camera, label: label, probabilities: ["a": 0.25, "b": 0.75]), crop: testCrop) }
        }
        try run.flush()
        let file = try readFCS(run.fcsPath)
        let names = (1...Int(file.keywords["$PAR"]!)!).map { file.keywords["$P\($0)N"]! }
        #expect(names == [
            "Time", "camera", "class", "prob_a", "prob_b", "area_um2", "mean_opd_nm", "max_opd_nm", "phase_volume_um3",
            "dry_mass_pg", "aspect_ratio", "ellipse_fill", "focus_um", "velocity_um_s", "frames_seen", "latency_ms",
        ])
        #expect(file.keywords["FLOWD_CLASSES"] == #"["a","b","unknown","unclassified"]"#)
        #expect(file.keywords["FLOWD_CAMERAS"]?.trimmingCharacters(in: .whitespaces) == #"["cam0","cam1"]"#)
        #expect(file.keywords["FLOWD_RUN_ID"] == run.id.description)
        #expect(file.events.map { $0[1] } == [0, 1, 0])
        #expect(file.events.map { $0[2] } == [1, 2, 3])
        let first = file.events[0]
        #expect(first[3] == 0.25 && first[4] == 0.75 && first[5] == 80 && first[9] == 30)
        #expect(first[6].isNaN, "a feature the message does not carry is NaN")
        #expect(first[12] == -3.5 && first[13].isNaN)
        #expect(first[14] == 4 && first[15] == 2.5)
        #expect(file.events.map { $0[0] } == file.events.map { $0[0] }.sorted())
    }

    @Test("FCS events = cells published = counts total, in every run, with a new run started mid-stream")
    func eventsEqualCells() throws {
        let root = temporaryDirectory()
        let recorder = recorder(root: root)
        // A reference file: cells are published as the workers go (no backlog held for a median).
        var harness = try PipelineHarness(seed: 5, reference: true, workers: 2, recorder: recorder)
        let counts = CountsSource(counters: harness.counters, cells: harness.pipeline.tally, startNanoseconds: 0)
        let first = try recorder.startRun(config: [:], model: nil, counts: counts).get()
        let second = Later<RunRecord>()
        let published = harness.published
        harness.run(frames: 60) {
            // While the workers publish (once a few cells are out, or after 30 s at most): the
            // switch must not split or lose any cell.
            for _ in 0..<30_000 where published.messages.withLock({ $0.count }) < 3 { usleep(1000) }
            second.set(try? recorder.startRun(config: [:], model: nil, counts: counts).get())
        }
        recorder.finish(counts: counts.current(final: true))
        let runs = [first, try #require(second.value)]
        #expect(harness.messages.count > 0)
        var recorded = 0
        for run in runs {
            let events = try readFCS(run.fcsPath).events.count
            let metadata = try runJSON(run)
            #expect(metadata.counts?.cells.total == UInt64(events), "run \(run.id)")
            #expect(metadata.eventsRecorded == events)
            recorded += events
        }
        #expect(recorded == harness.messages.count)
        #expect(try readFCS(first.fcsPath).events.count >= 3, "the switch came after the first cells")
        #expect(recorder.unrecorded.load(ordering: .relaxed) == 0 && recorder.errors.load(ordering: .relaxed) == 0)
    }

    @Test("a record directory that cannot be written: an error, counted; cells are still published and counted")
    func unwritableDirectory() throws {
        let blocker = temporaryDirectory()
        try Data("a file, not a directory".utf8).write(to: URL(fileURLWithPath: blocker))
        let recorder = recorder(root: blocker + "/runs")
        var harness = try PipelineHarness(seed: 5, recorder: recorder)
        let counts = CountsSource(counters: harness.counters, cells: harness.pipeline.tally, startNanoseconds: 0)
        guard case .failure(let failure) = recorder.startRun(config: [:], model: nil, counts: counts) else {
            Issue.record("a run started under a regular file")
            return
        }
        #expect(failure.description.contains(blocker))
        harness.run(frames: 30)
        let published = UInt64(harness.messages.count)
        #expect(published > 0)
        #expect(harness.pipeline.tally.reading(at: 0).total == published)
        #expect(recorder.unrecorded.load(ordering: .relaxed) == published)
        #expect(recorder.errors.load(ordering: .relaxed) == 1)
        #expect(recorder.lastFailure != nil)
        #expect(throws: Never.self) { recorder.flush() }
        guard case .failure = recorder.snapshot(counts: counts.current()) else {
            Issue.record("a snapshot without a run succeeded")
            return
        }
    }
}
