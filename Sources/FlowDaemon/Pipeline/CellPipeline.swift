import Dispatch
import Foundation
import FlowdConfig
import FrameIngest
import Inference
import Logging
import Protocol
import Reconstruction
import Synchronization

/// The live pipeline behind `flowd run`: frame → OPD map → cells → classified → tracked, each
/// cell reported once → fused label → published.
///
/// Workers call ``process(_:worker:)`` concurrently, each with its own index. Per frame, a
/// worker reconstructs the hologram and classifies all of the frame's crops as one batch: that
/// is the micro-batch. It never waits for other frames to fill a batch, so a cell's label costs
/// no waiting beyond its own frame's work, and the latency cap holds by construction. The
/// frame's cells then go to its camera's ``CameraStage``, which restores frame order for the
/// tracker. When the daemon stops, ``finish()`` (after the workers returned) reports every cell
/// still in view.
///
/// Accounting: every frame is processed, or held for the reference and processed later, or
/// counted as rejected under a ``RejectionReason``; every track wholly in
/// view at least once is published as one cell (the counting rule; slivers at the edge of a
/// run are not cells).
final class CellPipeline: Sendable {
    /// Crops per inference call, at most; a frame with more cells takes several calls.
    static let maxBatch = 32

    let settings: PipelineSettings
    let model: Model?
    let parameters: ReconstructionParameters
    let tally: CellTally
    /// Stage latencies: hologram → cells, crops → probabilities (per frame with cells), and
    /// arrival of a cell's best frame → its message published.
    let reconstructLatency = LatencyHistogram()
    let classifyLatency = LatencyHistogram()
    let publishLatency = LatencyHistogram()

    private let counters: IngestCounters
    private let rejectLog: RateLimitedLog
    private let logger: Logger
    private let publish: @Sendable (CellMessage) -> Void
    /// The configured reference's reconstructor, shared by all cameras; `nil`: per camera.
    private let sharedReconstructor: OffAxisReconstructor?
    private let workers: [PipelineWorker]
    private let stages = Mutex<[String: CameraStage]>([:])

    /// Throws when the reference cannot be used with these parameters, or an inference context
    /// cannot be made for the model.
    init(
        settings: PipelineSettings, model: Model?, reference: HologramImage?, workers: Int,
        counters: IngestCounters, rejectLog: RateLimitedLog, logger: Logger,
        startNanoseconds: UInt64 = DispatchTime.now().uptimeNanoseconds,
        publish: @escaping @Sendable (CellMessage) -> Void
    ) throws {
        var parameters = ReconstructionParameters()
        parameters.wavelengthNm = settings.wavelengthNm
        parameters.pixelUm = settings.pixelUm
        parameters.alphaMlPerGram = settings.alphaMlPerGram
        if let model {
            // Crops exactly as the classifier was trained on them.
            parameters.cropSize = model.inputSize
            parameters.cropPixelUm = model.pixelMicrometres
        }
        self.settings = settings
        self.model = model
        self.parameters = parameters
        self.counters = counters
        self.rejectLog = rejectLog
        self.logger = logger
        self.publish = publish
        tally = CellTally(startNanoseconds: startNanoseconds)
        sharedReconstructor = try reference.map { try OffAxisReconstructor(reference: $0, parameters: parameters) }
        // workers × BLAS threads ≤ cores: each context runs its GEMMs on its own small team.
        let threads = BLASRuntime.threadsPerWorker(workers: workers)
        self.workers = try (0..<max(1, workers)).map { _ in
            try PipelineWorker(model: model, maxBatch: Self.maxBatch, threads: threads)
        }
    }

    /// Processes one received frame on worker `worker` (0 ..< workers).
    func process(_ frame: ReceivedFrame, worker: Int) {
        precondition(workers.indices.contains(worker), "worker \(worker) of a pipeline made for \(workers.count)")
        let stage = stage(for: frame.camera)
        handle(stage.admit(frame, referenceFrames: settings.referenceFrames), stage, worker)
    }

    /// For worker `worker` when the queue is empty: processes one frame of a camera's backlog
    /// (frames that arrived while its reference was made). Returns whether there was one.
    func idle(worker: Int) -> Bool {
        for stage in stages.withLock({ Array($0.values) }) {
            if let (reconstructor, frame) = stage.takeBacklog() {
                stage.deliver(analyse(frame, reconstructor, workers[worker]), publish: publisher(for: stage))
                return true
            }
        }
        return false
    }

    /// Once every worker has returned: processes frames still held for a reference, and reports
    /// every cell still in view (nothing is lost on SIGTERM).
    func finish() {
        for stage in stages.withLock({ Array($0.values) }).sorted(by: { $0.camera < $1.camera }) {
            handle(stage.completeReference(), stage, 0, stopping: true)
            while let (reconstructor, frame) = stage.takeBacklog() {
                stage.deliver(analyse(frame, reconstructor, workers[0]), publish: publisher(for: stage))
            }
            stage.finish(publish: publisher(for: stage))
        }
    }

    private func stage(for camera: String) -> CameraStage {
        stages.withLock { stages in
            if let stage = stages[camera] { return stage }
            let stage = CameraStage(
                camera: camera, reconstructor: sharedReconstructor,
                tracking: .init(velocity: [settings.velocityPixels, 0], gatePixels: settings.gatePixels))
            stages[camera] = stage
            return stage
        }
    }

    private func buildReference(_ frames: [ReceivedFrame]) throws -> OffAxisReconstructor {
        let reference = try MedianReference.median(of: frames.map { HologramImage(frame: $0.frame) })
        let reconstructor = try OffAxisReconstructor(reference: reference, parameters: parameters)
        logger.info(
            "camera \(frames[0].camera): reference built from the median of \(frames.count) frames (\(reference.rows)×\(reference.cols))")
        return reconstructor
    }

    /// `stopping`: at shutdown, rejections are summed up in one notice per camera (they end the
    /// run rather than signal a problem in the stream), instead of a warning per frame.
    private func handle(_ admission: CameraStage.Admission, _ stage: CameraStage, _ worker: Int, stopping: Bool = false) {
        let publish = publisher(for: stage)
        switch admission {
        case .held:
            return
        case .build(let held):
            // Outside the stage's lock: the other workers keep taking frames into its backlog.
            let made = Result<OffAxisReconstructor, any Error> { try buildReference(held) }
            handle(stage.install(made, from: held), stage, worker, stopping: stopping)
        case .reject(let frames, let reason, let message):
            if stopping {
                logger.notice("camera \(stage.camera): \(frames.count) frame(s) rejected at shutdown: \(reason.rawValue): \(message)")
            }
            for frame in frames {
                reject(frame, reason, message, log: !stopping)
                stage.deliver(
                    FrameResult(ordinal: frame.ordinal, cells: nil, arrivalNanoseconds: frame.arrivalNanoseconds),
                    publish: publish)
            }
        case .process(let reconstructor, let frames):
            for frame in frames {
                stage.deliver(analyse(frame, reconstructor, workers[worker]), publish: publish)
            }
        }
    }

    private func publisher(for stage: CameraStage) -> CameraStage.Publish {
        { self.emit($0, $1, $2, camera: stage.camera) }
    }

    private func reject(_ frame: ReceivedFrame, _ reason: RejectionReason, _ message: String, log: Bool = true) {
        counters.recordRejected(camera: frame.camera, reason: reason.rawValue)
        guard log else { return }
        rejectLog.warning(
            key: "\(frame.camera)/\(reason.rawValue)", "frame rejected from \(frame.camera): \(reason.rawValue): \(message)",
            at: DispatchTime.now().uptimeNanoseconds)
    }

    /// Reconstructs and classifies one frame.
    private func analyse(_ frame: ReceivedFrame, _ reconstructor: OffAxisReconstructor, _ worker: PipelineWorker) -> FrameResult {
        var result = FrameResult(
            ordinal: frame.ordinal, cells: nil, seq: frame.frame.header.seq, tNanoseconds: frame.frame.header.timeNanoseconds,
            arrivalNanoseconds: frame.arrivalNanoseconds)
        let start = DispatchTime.now().uptimeNanoseconds
        var cells: [DetectedCell]
        do {
            cells = try reconstructor.process(
                HologramImage(frame: frame.frame), workspace: worker.workspace(for: reconstructor), crops: model != nil)
        } catch {
            // The only failure is a size mismatch, which admission has ruled out; counted anyway.
            reject(frame, .shapeChanged, "\(error)")
            return result
        }
        let reconstructed = DispatchTime.now().uptimeNanoseconds
        reconstructLatency.observe(nanoseconds: reconstructed - start)
        if model != nil, !cells.isEmpty {
            do {
                try worker.classify(&cells)
                classifyLatency.observe(nanoseconds: DispatchTime.now().uptimeNanoseconds - reconstructed)
            } catch {
                // Cannot happen with batches within maxBatch; the cells are still counted.
                logger.error("classification failed on camera \(frame.camera); its cells stay unclassified: \(error)")
            }
        }
        result.cells = cells
        return result
    }

    /// Publishes one finished track as a `cell` message (called under its camera's lock).
    private func emit(_ track: FlowTracker.Track, _ frame: FrameResult?, _ cellID: UInt64, camera: String) {
        let best = track.best.cell
        let (label, probabilities) = label(track)
        let box = best.box
        let now = DispatchTime.now().uptimeNanoseconds
        let arrival = frame?.arrivalNanoseconds ?? now
        let message = CellMessage(
            camera: camera, cellID: cellID, seq: frame?.seq, tNanoseconds: frame?.tNanoseconds,
            xPixels: best.x, yPixels: best.y, bbox: [box.x, box.y, box.width, box.height], label: label,
            probabilities: probabilities,
            features: Dictionary(uniqueKeysWithValues: zip(CellFeatures.names, best.features.values)),
            framesSeen: track.appearances.count, latencyMilliseconds: Double(now &- arrival) / 1e6)
        publish(message)
        tally.count(label)
        publishLatency.observe(nanoseconds: now &- arrival)
    }

    /// The label and fused probabilities of a track (see ``ProbabilityFusion``).
    func label(_ track: FlowTracker.Track) -> (String, [String: Double]) {
        guard let model else { return ("unclassified", [:]) }
        let fused = ProbabilityFusion.fuse(track.appearances.map(\.cell.probabilities).filter { !$0.isEmpty })
        guard let top = fused.indices.max(by: { fused[$0] < fused[$1] }) else { return ("unclassified", [:]) }
        let probabilities = Dictionary(uniqueKeysWithValues: zip(model.classes, fused))
        return (fused[top] < settings.minConfidence ? "unknown" : model.classes[top], probabilities)
    }
}
