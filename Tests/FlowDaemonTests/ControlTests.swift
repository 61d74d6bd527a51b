import FlowdConfig
import Foundation
import InferenceTestSupport
import Logging
import Protocol
import ContentHash
import Testing

@testable import FlowDaemon

private func parse(_ text: String) -> Result<ControlRequest, ControlRequest.Invalid> {
    Result { () throws(ControlRequest.Invalid) in try ControlRequest(json: Array(text.utf8)) }
}

private func fields(_ reply: [UInt8]) throws -> [String: JSONValue] {
    guard case .object(let fields) = try JSONDecoder().decode(JSONValue.self, from: Data(reply)) else {
        Issue.record("the reply is not a JSON object")
        return [:]
    }
    return fields
}

private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("flowd-\(UUID())-\(name)").path
}

/// A model file of the tiny test network with `seed`'s weights.
private func modelFile(seed: UInt64) throws -> String {
    let path = temporaryPath("model.safetensors")
    try Data(TinyNetwork(seed: seed).builder().bytes()).write(to: URL(fileURLWithPath: path))
    return path
}

/// A daemon's control over an in-process pipeline whose config comes from the YAML file `config`.
private struct Controlled {
    var harness: PipelineHarness
    let control: DaemonControl
    let recorder: RunRecorder
    let threshold = LogThreshold(.info)

    init(config path: String) throws {
        let load: @Sendable () throws -> DaemonConfig = { try ConfigLoader.load(file: path, environment: [:]) }
        let config = try load()
        let file = try ModelFile(path: config.pipeline.modelPath)
        let recorder = RunRecorder(
            root: temporaryPath("runs"), layout: CellEventLayout(modelClasses: file.model.classes, maxCameras: 4),
            rtdcLayout: nil, maxCameras: 5, maxCameraBytes: 64, logger: Logger(label: "test"))
        harness = try PipelineHarness(seed: 6, model: file.model, reference: true, workers: 2, recorder: recorder)
        control = DaemonControl(
            config: config, model: file.info, pipeline: harness.pipeline, recorder: recorder,
            counts: CountsSource(counters: harness.counters, cells: harness.pipeline.tally, startNanoseconds: 0),
            threshold: threshold, loadConfig: load, logger: Logger(label: "test"))
        self.recorder = recorder
        control.startRecording()
    }

    func send(_ command: ControlRequest.Command, path: String? = nil) throws -> [String: JSONValue] {
        try fields(control.handle(ControlRequest(command: command, path: path)))
    }
}

@Suite("The control socket's commands and SIGHUP", .serialized)
struct ControlTests {
    @Test("requests: one JSON object with a known command; anything else is refused with the reason")
    func requests() throws {
        #expect(try parse(#"{"command": "status"}"#).get() == ControlRequest(command: .status))
        #expect(try parse(#"{"command": "reload-model", "path": "/m.safetensors"}"#).get()
            == ControlRequest(command: .reloadModel, path: "/m.safetensors"))
        #expect(try parse(#"{"command": "reload-model"}"#).get() == ControlRequest(command: .reloadModel))
        let refusals = [
            ("status", "not JSON"), (#"["status"]"#, "not an object"), (#"{"cmd": "status"}"#, "no string \"command\""),
            (#"{"command": 3}"#, "no string \"command\""), (#"{"command": "reboot"}"#, "unknown command \"reboot\""),
            (#"{"command": "reload-model", "path": 5}"#, "\"path\" must be"),
            (#"{"command": "reload-model", "path": ""}"#, "\"path\" must be"),
            (#"{"command": "status", "path": "/m"}"#, "takes no field \"path\""), ("", "not JSON"),
        ]
        for (text, reason) in refusals {
            guard case .failure(let invalid) = parse(text) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(invalid.description.contains(reason), "\(text): \(invalid)")
        }
        let request = ControlRequest(command: .reloadModel, path: "/a \"b\".safetensors")
        #expect(try ControlRequest(json: request.jsonBytes) == request)
    }

    @Test("status, new-run, snapshot and reload-model (a good model and a bad one) answer as documented")
    func commands() throws {
        let first = try modelFile(seed: 7)
        let config = temporaryPath("flowd.yaml")
        try Data("model:\n  path: \(first)\n".utf8).write(to: URL(fileURLWithPath: config))
        var daemon = try Controlled(config: config)

        let status = try daemon.send(.status)
        #expect(status["ok"] == .bool(true))
        #expect(status["model_path"] == .string(first))
        #expect(status["model_sha256"] == .string(sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: first))))))
        #expect(status["classes"] == .array(TinyNetwork.classes.map(JSONValue.string)))
        guard case .string(let firstRun)? = status["run_id"], case .object(let counts)? = status["counts"] else {
            Issue.record("status without run_id or counts: \(status)")
            return
        }
        #expect(counts["v"] == .integer(1))

        daemon.harness.run(frames: 20)
        let snapshot = try daemon.send(.snapshot)
        #expect(snapshot["ok"] == .bool(true) && snapshot["run_id"] == .string(firstRun))
        let published = daemon.harness.messages.count
        guard case .string(let fcs)? = snapshot["fcs_path"] else { throw ControlTestFailure("no fcs_path") }
        #expect(try readFCS(fcs).events.count == published)

        let newRun = try daemon.send(.newRun)
        #expect(newRun["ok"] == .bool(true) && newRun["previous_run_id"] == .string(firstRun))
        #expect(newRun["run_id"] != .string(firstRun))
        #expect(daemon.harness.pipeline.tally.reading(at: 0).total == 0, "a new run starts its cells at zero")

        let bad = temporaryPath("bad.safetensors")
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try daemon.send(.reloadModel, path: bad)
        #expect(refused["ok"] == .bool(false))
        guard case .string(let error)? = refused["error"] else { throw ControlTestFailure("no error") }
        #expect(error.contains("model \(bad)"))
        #expect(daemon.control.inForce.model?.path == first)

        let second = try modelFile(seed: 8)
        let reloaded = try daemon.send(.reloadModel, path: second)
        #expect(reloaded["ok"] == .bool(true) && reloaded["model_path"] == .string(second))
        #expect(daemon.control.inForce.model?.path == second)
        let run = try #require(daemon.recorder.run)
        let metadata = try JSONDecoder().decode(RunMetadata.self, from: Data(contentsOf: URL(fileURLWithPath: run.metadataPath)))
        #expect(metadata.changes.map(\.key) == ["model.path"])
        #expect(metadata.changes.first?.model?.path == second)
    }

    @Test("SIGHUP: live settings apply, the others are left for a restart; a bad config or model changes nothing")
    func reloadConfiguration() throws {
        let first = try modelFile(seed: 7), second = try modelFile(seed: 8)
        let config = temporaryPath("flowd.yaml")
        func write(_ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: config)) }
        try write("model:\n  path: \(first)\nclassify:\n  min_confidence: 0.5\nworkers: 2\n")
        let daemon = try Controlled(config: config)

        try write("model:\n  path: \(second)\nclassify:\n  min_confidence: 0.8\nlog:\n  level: debug\nworkers: 3\n")
        daemon.control.reloadConfiguration()
        #expect(daemon.control.inForce.model?.path == second)
        #expect(daemon.harness.pipeline.classifier.minConfidence == 0.8)
        #expect(daemon.threshold.level == .debug)
        #expect(daemon.control.inForce.config.workers == 2, "workers needs a restart")

        try write("model: [unclosed\n")
        daemon.control.reloadConfiguration()
        try write("model:\n  path: /nonexistent.safetensors\nclassify:\n  min_confidence: 0.3\n")
        daemon.control.reloadConfiguration()
        #expect(daemon.control.inForce.model?.path == second)
        #expect(daemon.harness.pipeline.classifier.minConfidence == 0.8, "nothing of a rejected reload applies")
    }
}

private struct ControlTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
