import Dispatch
import FlowdConfig
import Foundation
import Inference
import Logging
import Protocol
import Synchronization

/// What an operator can do to a running daemon, from the control socket or SIGHUP: read its
/// status, start a new run, swap the model, snapshot the run, reload the config.
///
/// Operations run one at a time (a lock), on the caller's thread, never a worker's: a model is
/// loaded and its inference contexts allocated before the swap, while frames keep flowing.
final class DaemonControl: Sendable {
    /// Config keys a SIGHUP applies while running; a change to any other key is logged as
    /// needing a restart (endpoints, workers, queue sizes and reconstruction settings are
    /// baked into sockets, threads and FFT plans).
    static let liveKeys: Set<String> = ["model.path", "classify.min_confidence", "log.level"]

    private struct State {
        /// The config in force: the start-up config with the live changes applied since.
        var config: DaemonConfig
        var model: RunMetadata.ModelInfo?
    }

    private let state: Mutex<State>
    private let operation = NSLock()
    private let pipeline: CellPipeline
    private let recorder: RunRecorder
    private let counts: CountsSource
    private let threshold: LogThreshold
    /// Loads the config from the same sources as at start (file, environment, command line).
    private let loadConfig: @Sendable () throws -> DaemonConfig
    private let logger: Logger

    init(
        config: DaemonConfig, model: RunMetadata.ModelInfo?, pipeline: CellPipeline, recorder: RunRecorder,
        counts: CountsSource, threshold: LogThreshold, loadConfig: @escaping @Sendable () throws -> DaemonConfig,
        logger: Logger
    ) {
        state = Mutex(State(config: config, model: model))
        self.pipeline = pipeline
        self.recorder = recorder
        self.counts = counts
        self.threshold = threshold
        self.loadConfig = loadConfig
        self.logger = logger
    }

    /// The config in force (the start-up config with the live changes since) and the model.
    var inForce: (config: DaemonConfig, model: RunMetadata.ModelInfo?) {
        state.withLock { ($0.config, $0.model) }
    }

    /// Starts the first run (at daemon start).
    func startRecording() {
        let (config, model) = state.withLock { ($0.config.effectiveValues, $0.model) }
        recorder.startRun(config: config, model: model, counts: counts)
    }

    /// Answers one control request; the reply is a JSON object with `ok`.
    func handle(_ request: ControlRequest) -> [UInt8] {
        operation.lock()
        defer { operation.unlock() }
        switch request.command {
        case .status: return status()
        case .newRun: return newRun(sample: request.sample)
        case .reloadModel: return reloadModel(path: request.path)
        case .snapshot: return snapshot()
        }
    }

    /// Loads the model file `path` and swaps it in, as `reload-model` does, one operation at a
    /// time with the others: for the fleet's roll-out (``ModelRolloutService``).
    func swapModel(path: String) throws(ModelError) {
        operation.lock()
        defer { operation.unlock() }
        try swap(to: try ModelFile(path: path))
    }

    // MARK: Commands

    private func status() -> [UInt8] {
        ControlReply.success(statusFields())
    }

    /// The fields of the `status` reply; read-only, so the dashboard reads them too without
    /// waiting for a command in progress.
    func statusFields() -> [String: JSONValue] {
        let model = state.withLock { $0.model }
        var fields = recording(recorder.run)
        fields["model_path"] = model.map { .string($0.path) } ?? .null
        fields["model_sha256"] = model.map { .string($0.sha256) } ?? .null
        fields["classes"] = .array((model?.classes ?? []).map(JSONValue.string))
        fields["uptime_s"] = .double(Double(DispatchTime.now().uptimeNanoseconds &- counts.startNanoseconds) / 1e9)
        fields["counts"] = ControlReply.value(counts.current())
        return fields
    }

    private func newRun(sample: String?) -> [UInt8] {
        let previous = recorder.run
        let (config, model) = state.withLock { ($0.config.effectiveValues, $0.model) }
        switch recorder.startRun(config: config, model: model, counts: counts, sample: sample) {
        case .success(let run):
            var fields = recording(run)
            fields["previous_run_id"] = previous.map { .string($0.id.description) } ?? .null
            return ControlReply.success(fields)
        case .failure(let error):
            return ControlReply.failure("no new run: \(error); the current run goes on")
        }
    }

    private func reloadModel(path: String?) -> [UInt8] {
        let configured = path ?? state.withLock { $0.config.pipeline.modelPath }
        do throws(ModelError) {
            guard let path = try DefaultModel.path(configured: configured) else {
                return ControlReply.failure("no model to load: give \"path\" (model.path is none)")
            }
            let file = try ModelFile(path: path)
            try swap(to: file)
            return ControlReply.success([
                "model_path": .string(file.path), "model_sha256": .string(file.sha256),
                "classes": .array(file.model.classes.map(JSONValue.string)),
            ])
        } catch {
            logger.error("reload-model \(configured) rejected, the running model keeps serving: \(error)")
            return ControlReply.failure("\(error)")
        }
    }

    private func snapshot() -> [UInt8] {
        switch recorder.snapshot(counts: counts.current()) {
        case .success(let run): return ControlReply.success(recording(run))
        case .failure(let error): return ControlReply.failure("\(error)")
        }
    }

    // MARK: SIGHUP

    /// Reloads the config from its sources and the model file, and applies what can change
    /// live (``liveKeys``); the other changes are logged as needing a restart. A config or
    /// model that does not load is rejected as a whole: nothing changes.
    func reloadConfiguration() {
        operation.lock()
        defer { operation.unlock() }
        let loaded: DaemonConfig
        do {
            loaded = try loadConfig()
        } catch {
            logger.error("SIGHUP: config rejected, nothing changed: \(error)")
            return
        }
        let current = state.withLock { $0 }
        let before = current.config.effectiveValues, after = loaded.effectiveValues
        let changed = after.keys.filter { before[$0] != after[$0] }.sorted()
        for key in changed where !Self.liveKeys.contains(key) {
            logger.warning(
                "SIGHUP: \(key) changed from \(describe(before[key])) to \(describe(after[key])): needs restart to apply")
        }
        // The model file is read again even under the same path: it may have been replaced.
        var file: ModelFile?
        do throws(ModelError) {
            if let path = try DefaultModel.path(configured: loaded.pipeline.modelPath) {
                let candidate = try ModelFile(path: path)
                if candidate.info != current.model { file = candidate }
            } else if current.model != nil {
                logger.error("SIGHUP: model.path is none but a model is in service; nothing changed (restart to run without a model)")
                return
            }
        } catch {
            logger.error("SIGHUP: model rejected, nothing changed: \(error)")
            return
        }
        if let file {
            do throws(ModelError) { try swap(to: file) } catch {
                logger.error("SIGHUP: model rejected, nothing changed: \(error)")
                return
            }
        }
        var config = current.config
        if loaded.pipeline.minConfidence != config.pipeline.minConfidence {
            config.pipeline.minConfidence = loaded.pipeline.minConfidence
            pipeline.classifier.minConfidence = loaded.pipeline.minConfidence
            recorder.note(key: "classify.min_confidence", value: .double(loaded.pipeline.minConfidence))
        }
        if loaded.logLevel != config.logLevel {
            config.logLevel = loaded.logLevel
            threshold.level = loaded.logLevel
            recorder.note(key: "log.level", value: .string(loaded.logLevel.rawValue))
        }
        if let file { config.pipeline.modelPath = file.path }
        state.withLock { $0.config = config }
        let applied = changed.filter(Self.liveKeys.contains)
        let model = file.map { "; model \($0.path) (sha256 \($0.sha256.prefix(12))…) in service" } ?? ""
        logger.notice(
            "SIGHUP: config reloaded; applied: \(applied.isEmpty ? "no change" : applied.joined(separator: ", "))\(model)")
    }

    // MARK: Parts

    /// Loads nothing: swaps `file`'s model in (``CellPipeline/swapModel(_:)``), then records it.
    private func swap(to file: ModelFile) throws(ModelError) {
        try pipeline.swapModel(file.model)
        state.withLock {
            $0.model = file.info
            $0.config.pipeline.modelPath = file.path
        }
        recorder.note(key: "model.path", value: .string(file.path), model: file.info)
        logger.notice("model \(file.path) in service (sha256 \(file.sha256)): \(file.model.summary)")
    }

    /// The run fields of a reply: where it is recorded, or why it is not.
    private func recording(_ run: RunRecord?) -> [String: JSONValue] {
        guard let run else {
            return [
                "run_id": .null, "run_dir": .null, "fcs_path": .null, "run_json": .null,
                "record_error": .string(recorder.lastFailure ?? "no run is being recorded"),
            ]
        }
        var fields: [String: JSONValue] = [
            "run_id": .string(run.id.description), "run_dir": .string(run.directory), "fcs_path": .string(run.fcsPath),
            "run_json": .string(run.metadataPath),
        ]
        if recorder.rtdcLayout != nil { fields["rtdc_path"] = .string(run.rtdcPath) }
        if let failure = recorder.lastFailure { fields["record_error"] = .string(failure) }
        return fields
    }

    private func describe(_ value: JSONValue?) -> String {
        value.map { "\($0)" } ?? "(unset)"
    }
}
