import Dispatch
import Foundation
import FlowdConfig
import FrameIngest
import Inference
import Logging
import Prometheus
import Protocol
import Reconstruction
import Synchronization
import Tracking

/// The live pipeline behind `flowd run`: frame → OPD map → cells → tracked, each cell reported
/// once → classified from its best views → fused label → sent (published, recorded, counted).
///
/// Workers call ``process(_:worker:)`` concurrently, each with its own index. Per frame, a
/// worker reconstructs the hologram; the frame's cells then go to its camera's ``CameraStage``,
/// which restores frame order for the tracker and numbers the cells whose tracks are complete.
/// The worker that delivered the frame completing them classifies each cell's
/// `classify.max_views` largest appearances wholly in view, all in one batch (the micro-batch:
/// it never waits for other frames), outside the stage's lock so that the other workers go on,
/// and the stage releases the labelled cells in cell-id order. Classifying per cell rather than
/// per appearance costs half the inference (a cell is in view ≈ 6 frames at the twin's flow),
/// and crops cut by the frame edge, unlike anything the classifier was trained on
/// (`flowd extract` keeps the best, whole view), never vote. When the daemon stops,
/// ``finish()`` (after the workers returned) reports every cell still in view.
///
/// Accounting: every frame is processed, or held for the reference and processed later, or
/// counted as rejected under a ``RejectionReason``; every track wholly in
/// view at least once is published as one cell (the counting rule; slivers at the edge of a
/// run are not cells).
final class CellPipeline: Sendable {
    /// Cells whose views one inference call takes, at most (a frame rarely completes more; a
    /// larger batch would only grow each worker's arena).
    static let cellsPerBatch = 4

    let settings: PipelineSettings
    /// The model in service (swapped by ``swapModel(_:)``) and the live `classify.min_confidence`.
    let classifier: ClassifierSlot
    let parameters: ReconstructionParameters
    let tally: CellTally
    /// Stage latencies: hologram → cells (per frame), cells' views → probabilities (per batch:
    /// the cells one frame completes), and arrival of the frame a cell was last seen in → its
    /// message published.
    let reconstructLatency: LatencyHistogram
    let classifyLatency: LatencyHistogram
    let publishLatency: LatencyHistogram
    /// Crops classified so far (each published cell's views).
    let classifiedCrops = Atomic<UInt64>(0)
    /// Threads each worker's inference context splits its GEMMs over (workers × threads ≤ cores).
    let inferenceThreads: Int

    private let counters: IngestCounters
    private let rejectLog: RateLimitedLog
    private let logger: Logger
    /// Sends one labelled cell's message: publishes it on the result socket and records it
    /// with its best view (its crop, OPD in nm, as classified, and its hologram tile, if cut).
    private let send: @Sendable (CellMessage, DetectedCell) -> Void
    /// Records an object that is not a cell (never published): its measurements in the shape of
    /// a cell message whose label is the ``ObjectRejection`` reason, and its best view.
    private let recordRejected: @Sendable (CellMessage, DetectedCell) -> Void
    /// Side of the raw hologram tile cut around each cell for the record (``HologramTile``),
    /// camera pixels; `nil`: none are cut.
    private let hologramTileSide: Int?
    /// The configured reference's reconstructor, shared by all cameras; `nil`: per camera.
    private let sharedReconstructor: OffAxisReconstructor?
    private let workers: [PipelineWorker]
    private let stages = Mutex<[String: CameraStage]>([:])
    /// `role: worker`: where each reconstructed (or rejected) frame goes instead of its
    /// camera's tracker: to the aggregator (``DetectionSender``); `nil`: tracked here.
    private let forward: ForwardFrame?
    /// `role: aggregator`: the threads that label the cells ``deliver(_:camera:field:)``
    /// completes, one per worker (inference context); `nil` in the other roles.
    private let labelling: LabelWorkers?

    /// Hands a worker's frame, its result and, if it could not be processed, why, onwards.
    typealias ForwardFrame = @Sendable (ReceivedFrame, FrameResult, RejectionReason?) -> Void

    /// `metrics` is the registry its stage latencies are exposed in (the daemon's, for `/metrics`).
    /// `delivered`: the frames come already reconstructed, through ``deliver(_:camera:field:)``
    /// (`role: aggregator`), and `workers` threads label their cells.
    /// Throws when the reference cannot be used with these parameters, or an inference context
    /// cannot be made for the model.
    init(
        settings: PipelineSettings, model: Model?, reference: HologramImage?, workers: Int,
        counters: IngestCounters, rejectLog: RateLimitedLog, logger: Logger,
        startNanoseconds: UInt64 = DispatchTime.now().uptimeNanoseconds,
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        hologramTileSide: Int? = nil, inferenceThreads: Int? = nil,
        recordRejected: @escaping @Sendable (CellMessage, DetectedCell) -> Void = { _, _ in },
        forward: ForwardFrame? = nil, delivered: Bool = false,
        send: @escaping @Sendable (CellMessage, DetectedCell) -> Void
    ) throws {
        let parameters = Self.parameters(settings: settings, model: model)
        self.settings = settings
        self.parameters = parameters
        self.counters = counters
        self.rejectLog = rejectLog
        self.logger = logger
        self.send = send
        self.recordRejected = recordRejected
        self.hologramTileSide = hologramTileSide
        self.forward = forward
        tally = CellTally(startNanoseconds: startNanoseconds)
        reconstructLatency = LatencyHistogram(stage: "reconstruct", registry: metrics)
        classifyLatency = LatencyHistogram(stage: "classify", registry: metrics)
        publishLatency = LatencyHistogram(stage: "frame_to_publish", registry: metrics)
        sharedReconstructor = try reference.map { try OffAxisReconstructor(reference: $0, parameters: parameters) }
        // workers × BLAS threads ≤ cores: each context runs its GEMMs on its own small team.
        self.inferenceThreads = inferenceThreads ?? BLASRuntime.threadsPerWorker(workers: workers)
        self.workers = (0..<max(1, workers)).map(PipelineWorker.init(index:))
        labelling = delivered ? LabelWorkers(count: self.workers.count) : nil
        classifier = ClassifierSlot(
            try model.map { [workers = self.workers.count, inferenceThreads = self.inferenceThreads] in
                try Self.classifier($0, workers: workers, settings: settings, threads: inferenceThreads)
            },
            minConfidence: settings.minConfidence)
    }

    /// The reconstruction parameters of `settings`, with crops exactly as `model` was trained
    /// on them (its `input.size` and `input.pixel_um`; the defaults without a model).
    static func parameters(settings: PipelineSettings, model: Model?) -> ReconstructionParameters {
        var parameters = ReconstructionParameters()
        parameters.wavelengthNm = settings.wavelengthNm
        parameters.pixelUm = settings.pixelUm
        parameters.alphaMlPerGram = settings.alphaMlPerGram
        parameters.phaseSign = PhaseSign(rawValue: settings.phaseSign) ?? .auto
        parameters.refocus = settings.refocus != "off"
        parameters.refocusRangeUm = settings.refocusRangeUm
        parameters.mediumIndex = settings.mediumIndex
        if let model {
            parameters.cropSize = model.inputSize
            parameters.cropPixelUm = model.pixelMicrometres
        }
        return parameters
    }

    /// A context per worker for `model`, each for the views of ``cellsPerBatch`` cells.
    private static func classifier(
        _ model: Model, workers: Int, settings: PipelineSettings, threads: Int
    ) throws(ModelError) -> Classifier {
        try Classifier(model: model, workers: workers, maxBatch: cellsPerBatch * settings.maxViews, threads: threads)
    }

    /// Puts `model` in service, off the hot path (on the caller's thread): checks that it is
    /// compatible (``ClassifierSlot/incompatibility(of:)``), allocates a context per worker,
    /// swaps, and returns once no frame uses the previous model any more, so that its arenas
    /// are freed here rather than on a worker. Frames are never held back meanwhile.
    func swapModel(_ model: Model) throws(ModelError) {
        if let problem = classifier.incompatibility(of: model) { throw ModelError(problem) }
        let next = try Self.classifier(model, workers: workers.count, settings: settings, threads: inferenceThreads)
        guard var previous = try classifier.swap(to: next) else { return }
        while !isKnownUniquelyReferenced(&previous) { usleep(1000) }
    }

    /// Each camera's reference health: its last frame's background residual (nm RMS) and the
    /// references refreshed from running frames, for `/metrics`.
    var referenceHealth: [(camera: String, backgroundRmsNm: Double, refreshes: Int)] {
        stages.withLock { Array($0.values) }.sorted { $0.camera < $1.camera }.map {
            let health = $0.referenceHealth
            return ($0.camera, health.backgroundRmsNm, health.refreshes)
        }
    }

    /// Frame workers this pipeline was made for.
    var workerCount: Int { workers.count }

    /// Processes one received frame on worker `worker` (0 ..< workers).
    func process(_ frame: ReceivedFrame, worker: Int) {
        precondition(workers.indices.contains(worker), "worker \(worker) of a pipeline made for \(workers.count)")
        let stage = stage(for: frame.camera)
        if forward != nil, frame.frame.header.seq == nil {
            // Nothing to send: the aggregator could not place it. Counted here, by reason.
            return reject(frame, .missingSeq, "role worker: frames need a seq for the aggregator to put them in order")
        }
        handle(stage.admit(frame, referenceFrames: settings.referenceFrames), of: stage, on: workers[worker])
    }

    /// For worker `worker` when the queue is empty: processes one frame of a camera's backlog
    /// (frames that arrived while its reference was made). Returns whether there was one.
    func idle(worker: Int) -> Bool {
        for stage in stages.withLock({ Array($0.values) }) {
            if let (reconstructor, frame) = stage.takeBacklog() {
                reconstructAndTrack(frame, with: reconstructor, in: stage, on: workers[worker])
                return true
            }
        }
        return false
    }

    /// Once every worker has returned: processes frames still held for a reference, and reports
    /// every cell still in view (nothing is lost on SIGTERM).
    func finish() {
        labelling?.finish()
        for stage in stages.withLock({ Array($0.values) }).sorted(by: { $0.camera < $1.camera }) {
            handle(stage.completeReference(), of: stage, on: workers[0], stopping: true)
            while let (reconstructor, frame) = stage.takeBacklog() {
                reconstructAndTrack(frame, with: reconstructor, in: stage, on: workers[0])
            }
            labelAndRelease(stage.finish(), from: stage, on: workers[0])
        }
    }

    private func stage(for camera: String) -> CameraStage {
        stages.withLock { stages in
            if let stage = stages[camera] { return stage }
            let stage = CameraStage(
                camera: camera, reconstructor: sharedReconstructor, phaseSign: parameters.phaseSign,
                tracking: .init(
                    velocity: settings.velocityPixels > 0 ? [settings.velocityPixels, 0] : nil, gatePixels: settings.gatePixels),
                referenceRefreshSeconds: settings.referenceRefreshSeconds
            ) { [tally, recordRejected, pixelUm = settings.pixelUm] object in
                let message = Self.message(
                    of: object.track, best: object.best, lastSeen: object.lastSeen, pixelsPerSecond: object.pixelsPerSecond,
                    cellID: 0, label: .init(label: object.reason.rawValue, probabilities: [:]), camera: camera, pixelUm: pixelUm)
                tally.countRejected(object.reason.rawValue) { recordRejected(message, object.track.best.cell) }
            }
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

    /// Makes a camera's refreshed reference from `frames` (on the worker that collected the last
    /// of them) and puts it in service; a failure keeps the old one and is logged.
    private func refreshReference(_ frames: [ReceivedFrame], of stage: CameraStage) {
        let before = stage.referenceHealth.backgroundRmsNm
        do {
            stage.replaceReference(try buildReference(frames))
            logger.notice(
                "camera \(stage.camera): reference refreshed from running frames (reconstruction.reference_refresh_s); background residual was \(String(format: "%.1f", before)) nm RMS")
        } catch {
            stage.replaceReference(nil)
            logger.warning("camera \(stage.camera): the reference could not be refreshed, the previous one stays: \(error)")
        }
    }

    /// `stopping`: at shutdown, rejections are summed up in one notice per camera (they end the
    /// run rather than signal a problem in the stream), instead of a warning per frame.
    private func handle(
        _ admission: CameraStage.Admission, of stage: CameraStage, on worker: PipelineWorker, stopping: Bool = false
    ) {
        switch admission {
        case .held:
            return
        case .build(let held):
            // Outside the stage's lock: the other workers keep taking frames into its backlog.
            let made = Result<OffAxisReconstructor, any Error> { try buildReference(held) }
            handle(stage.install(made, from: held), of: stage, on: worker, stopping: stopping)
        case .reject(let frames, let reason, let message):
            if stopping {
                logger.notice("camera \(stage.camera): \(frames.count) frame(s) rejected at shutdown: \(reason.rawValue): \(message)")
            }
            for frame in frames {
                reject(frame, reason, message, log: !stopping)
                let result = FrameResult(
                    ordinal: frame.ordinal, flowFrame: frame.place.flowFrame, cells: nil, seq: frame.frame.header.seq,
                    tNanoseconds: frame.frame.header.timeNanoseconds, arrivalNanoseconds: frame.arrivalNanoseconds)
                if let forward {
                    forward(frame, result, reason)
                } else {
                    labelAndRelease(stage.track(result), from: stage, on: worker)
                }
            }
        case .process(let reconstructor, let frames):
            for frame in frames { reconstructAndTrack(frame, with: reconstructor, in: stage, on: worker) }
        }
    }

    /// One frame's way through: reconstructed on `worker`, tracked by its camera's stage (in
    /// frame order), and the cells it completes labelled and released.
    private func reconstructAndTrack(
        _ frame: ReceivedFrame, with reconstructor: OffAxisReconstructor, in stage: CameraStage, on worker: PipelineWorker
    ) {
        let result = reconstruct(frame, with: reconstructor, in: stage, on: worker)
        if let forward {
            // The only failure of reconstruction is a size mismatch (see `reconstruct`).
            forward(frame, result, result.cells == nil ? .shapeChanged : nil)
        } else {
            labelAndRelease(stage.track(result), from: stage, on: worker)
        }
    }

    /// `role: aggregator`: a frame's result as a worker sent it, in its camera's order (the
    /// caller, ``DetectionAggregator``, restored it and gave up what no worker returned), for
    /// the camera's tracker, on the caller's thread; the cells it completes are labelled and sent
    /// on the label threads (``LabelWorkers``). `field`: the frame's size, columns × rows.
    func deliver(_ result: FrameResult, camera: String, field: SIMD2<Double>) {
        guard let labelling else { preconditionFailure("deliver needs a pipeline made with delivered: true") }
        let stage = stage(for: camera)
        let cells = stage.trackInOrder(result, field: field)
        guard !cells.isEmpty else { return }
        labelling.submit { [self] worker in labelAndRelease(cells, from: stage, on: workers[worker]) }
    }

    /// Labels the cells `stage` completed, on `worker`'s inference context and outside the
    /// stage's lock (the other workers go on meanwhile), and lets the stage release them, in
    /// cell-id order, to ``countAndSend(_:labelled:camera:)``.
    private func labelAndRelease(_ cells: [CameraStage.CompletedCell], from stage: CameraStage, on worker: PipelineWorker) {
        guard !cells.isEmpty else { return }
        for (cell, label) in zip(cells, labels(of: cells, camera: stage.camera, on: worker)) {
            stage.releaseInOrder(cellID: cell.cellID) {
                self.countAndSend(cell, labelled: label, camera: stage.camera)
            }
        }
    }

    private func reject(_ frame: ReceivedFrame, _ reason: RejectionReason, _ message: String, log: Bool = true) {
        counters.recordRejected(camera: frame.camera, reason: reason.rawValue)
        guard log else { return }
        rejectLog.warning(
            key: "\(frame.camera)/\(reason.rawValue)", "frame rejected from \(frame.camera): \(reason.rawValue): \(message)",
            at: DispatchTime.now().uptimeNanoseconds)
    }

    /// Reconstructs one frame, with a crop of each cell: for the classifier and the run's
    /// record (cells.rtdc), also without a model.
    private func reconstruct(
        _ frame: ReceivedFrame, with reconstructor: OffAxisReconstructor, in stage: CameraStage, on worker: PipelineWorker
    ) -> FrameResult {
        var result = FrameResult(
            ordinal: frame.ordinal, flowFrame: frame.place.flowFrame, cells: nil, seq: frame.frame.header.seq, tNanoseconds: frame.frame.header.timeNanoseconds,
            arrivalNanoseconds: frame.arrivalNanoseconds)
        let start = DispatchTime.now().uptimeNanoseconds
        var cells: [DetectedCell]
        let workspace = worker.workspace(for: reconstructor)
        let hologram = HologramImage(frame: frame.frame)
        do {
            cells = try reconstructor.process(
                hologram, workspace: workspace, crops: true, phaseSign: stage.phaseSign, rejects: true,
                focusHints: parameters.refocus ? stage.focusHints(forFrame: frame.place.flowFrame) : [])
            if let sign = stage.phaseSign.newDecision() {
                logger.notice(
                    "camera \(stage.camera): phase sign \(sign.rawValue), decided from frame seq \(frame.frame.header.seq) (reconstruction.phase_sign: auto; cells are denser than their medium)")
            }
        } catch {
            // The only failure is a size mismatch, which admission has ruled out; counted anyway.
            reject(frame, .shapeChanged, "\(error)")
            return result
        }
        reconstructLatency.observe(nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        if let side = hologramTileSide {
            for i in cells.indices {
                cells[i].hologram = HologramTile(
                    of: hologram, reference: reconstructor.reference, centredOn: cells[i].x, cells[i].y, side: side)
            }
        }
        result.backgroundRmsNm = Double(workspace.plane.residualRms) * parameters.wavelengthNm / (2 * .pi)
        if let frames = stage.collectForRefresh(frame, count: settings.referenceFrames) { refreshReference(frames, of: stage) }
        result.cells = cells
        return result
    }

    /// Sends one labelled cell as a `cell` message and counts it, in one step under the tally's
    /// lock. Its latency runs from the arrival of the frame the cell was last seen in: only then
    /// is everything known that its label is made of.
    private func countAndSend(_ cell: CameraStage.CompletedCell, labelled label: CellLabel, camera: String) {
        let message = Self.message(
            of: cell.track, best: cell.best, lastSeen: cell.lastSeen, pixelsPerSecond: cell.pixelsPerSecond,
            cellID: cell.cellID, label: label, camera: camera, pixelUm: settings.pixelUm)
        tally.count(label.label) { send(message, cell.track.best.cell) }
        publishLatency.observe(nanoseconds: UInt64(message.latencyMilliseconds * 1e6))
    }

    /// The message of a complete track: its best view's position, box and measurements
    /// (``CellFeatures``, `focus_um`: the distance its field was propagated to be in focus,
    /// absent when refocusing is off or failed; `velocity_um_s`: its speed, absent without frame
    /// timestamps; `pixelUm`: the hologram's pixel), and its latency from the arrival of the
    /// frame it was last seen in.
    private static func message(
        of track: FlowTracker.Track, best: FrameResult?, lastSeen: FrameResult?, pixelsPerSecond: Double?,
        cellID: UInt64, label: CellLabel, camera: String, pixelUm: Double
    ) -> CellMessage {
        let view = track.best.cell
        let box = view.box
        let now = DispatchTime.now().uptimeNanoseconds
        var features = Dictionary(uniqueKeysWithValues: zip(CellFeatures.names, view.features.values))
        features["focus_um"] = view.focusUm
        features["velocity_um_s"] = pixelsPerSecond.map { $0 * pixelUm }
        return CellMessage(
            camera: camera, cellID: cellID, seq: best?.seq, tNanoseconds: best?.tNanoseconds,
            xPixels: view.x, yPixels: view.y, bbox: [box.x, box.y, box.width, box.height], label: label.label,
            probabilities: label.probabilities, features: features, flags: view.refocusFailed ? ["refocus_failed"] : nil,
            framesSeen: track.appearances.count,
            latencyMilliseconds: Double(now &- (lastSeen?.arrivalNanoseconds ?? now)) / 1e6)
    }

    /// The label and fused probabilities of each cell: its `classify.max_views` largest
    /// appearances wholly in view, the views of all `cells` classified together on `worker`'s
    /// context, and fused per cell (see ``ProbabilityFusion``).
    private func labels(of cells: [CameraStage.CompletedCell], camera: String, on worker: PipelineWorker) -> [CellLabel] {
        // Taken once: a model swap while these cells classify does not change their model.
        guard let current = classifier.current else { return cells.map { _ in .unclassified } }
        let viewsPerCell = cells.map { cell in
            Array(
                cell.track.appearances.map(\.cell).filter { !$0.touchesEdge && $0.rejection == nil }
                    .sorted { $0.features.areaUm2 > $1.features.areaUm2 }.prefix(settings.maxViews))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let probabilities: [[Float]]
        do {
            probabilities = try current.probabilities(of: viewsPerCell.flatMap { $0 }, worker: worker.index)
        } catch {
            // Cannot happen with crops of the model's size; the cells are still counted.
            logger.error("classification failed on camera \(camera); \(cells.count) cell(s) stay unclassified: \(error)")
            return cells.map { _ in .unclassified }
        }
        classifyLatency.observe(nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        classifiedCrops.add(UInt64(probabilities.count), ordering: .relaxed)
        var next = 0
        return viewsPerCell.map { cellViews in
            defer { next += cellViews.count }
            let fused = ProbabilityFusion.fuse(Array(probabilities[next..<(next + cellViews.count)]))
            guard let top = fused.indices.max(by: { fused[$0] < fused[$1] }) else { return .unclassified }
            return CellLabel(
                label: fused[top] < classifier.minConfidence ? "unknown" : current.model.classes[top],
                probabilities: Dictionary(uniqueKeysWithValues: zip(current.model.classes, fused)))
        }
    }
}
