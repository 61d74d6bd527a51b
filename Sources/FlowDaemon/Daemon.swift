import Dispatch
import Foundation
import FlowdConfig
import FrameIngest
import Inference
import Dashboard
import Logging
import Prometheus
import Protocol
import Reconstruction
import ServiceLifecycle
import UnixSignals
import ZeroMQ

/// The flowd daemon: every socket bound and every service wired, ready to ``run()``.
///
/// Construction binds and connects all sockets and loads the model, so that a bad endpoint or
/// model fails before systemd is told READY; it also starts the first run's record (a record
/// directory that cannot be written is logged and counted, never fatal). ``run()`` runs the
/// services until SIGTERM or SIGINT, then stops gracefully: stop receiving, drain, end the
/// run's record, publish the final `counts`, return. SIGHUP reloads the config and the model.
public struct Daemon: Sendable {
    let config: DaemonConfig
    let ingest: FrameIngest
    let publisher: ResultPublisher
    let logger: Logger
    private let context: ZMQContext
    private let group: ServiceGroup

    /// Throws ``ZMQError``, ``MonitoringServer/ServerError`` or ``AccessToken/LoadError`` naming the
    /// endpoint or file that failed, or ``ModelError`` for a model that does not load. (The
    /// monitoring port binds when its service starts: a port in use stops the daemon then.)
    /// - Parameters:
    ///   - threshold: the log level every logger follows (SIGHUP may change it).
    ///   - loadConfig: loads the config from the same sources as `config` (for SIGHUP).
    init(
        config: DaemonConfig, logger: Logger, threshold: LogThreshold,
        loadConfig: @escaping @Sendable () throws -> DaemonConfig, notifier: SystemdNotifier = SystemdNotifier()
    ) async throws {
        self.config = config
        self.logger = logger
        let context = ZMQContext()
        let malformedLog = RateLimitedLog(
            logger: logger, burst: config.malformedLogBurst, windowSeconds: config.malformedLogWindowSeconds)
        for warning in EndpointExposure.warnings(config) { logger.warning("\(warning)") }
        // The ZAP handler is bound before any CurveZMQ socket exists (see ZAPHandler).
        let access = try CurveAccess.load(config.curve)
        let zap = try access?.handler(context: context, refusals: malformedLog)
        let role = config.scaleOut.role
        let counters = IngestCounters(maxCameras: config.ingest.maxCameras)
        let sender = try role == .worker
            ? DetectionSender(
                context: context, endpoint: config.scaleOut.aggregator, highWaterMark: config.ingest.receiveHighWaterMark,
                linger: config.publishLingerMilliseconds, counters: counters, log: malformedLog)
            : nil
        // An aggregator takes detections from workers, not frames from cameras. A worker tells
        // its aggregator of each frame its full queue dropped, so that no later frame waits for it.
        var dropped: (@Sendable (ReceivedFrame) -> Void)?
        if let sender { dropped = { frame in sender.sendDropped(frame) } }
        let ingest = try FrameIngest(
            inputs: role == .aggregator ? [] : config.inputs, settings: config.ingest, context: context, malformedLog: malformedLog, logger: logger,
            curve: access?.keys, counters: counters, dropped: dropped)
        let publisher = try ResultPublisher(
            context: context, endpoint: config.publishEndpoint, linger: config.publishLingerMilliseconds,
            curve: access?.keys)
        // The one Prometheus registry of /metrics: the stage latencies record into it as they happen.
        let metricsRegistry = PrometheusCollectorRegistry()
        let frameLatency = LatencyHistogram(stage: "frame", registry: metricsRegistry)
        let metricsToken = try config.metricsListen.flatMap { try AccessToken.forListen($0, tokenFile: config.metricsTokenFile) }
        // The dashboard's recent cells, only while the monitoring port serves it.
        let cellFeed = config.metricsListen.map { _ in CellFeed() }
        // An aggregator's workers are its label threads (LabelWorkers), each an inference context.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workerCount = role == .aggregator
            ? (config.scaleOut.labelThreads > 0 ? config.scaleOut.labelThreads : cores)
            : config.workers > 0 ? config.workers : cores
        let startNanoseconds = DispatchTime.now().uptimeNanoseconds
        let modelFile = try DefaultModel.path(configured: config.pipeline.modelPath).map(ModelFile.init(path:))
        let parameters = CellPipeline.parameters(settings: config.pipeline, model: modelFile?.model)
        // A worker records nothing (its aggregator does), and sends no hologram tiles (v1).
        let hologramTileSide = config.record.hologramEvery > 0 && role != .worker
            ? HologramTile.side(
                cropSize: parameters.cropSize, cropPixelUm: parameters.cropPixelUm, hologramPixelUm: parameters.pixelUm)
            : nil
        let recorder = RunRecorder(
            root: RecordDirectory.resolve(configured: config.record.directory),
            layout: CellEventLayout(modelClasses: modelFile?.model.classes ?? [], maxCameras: config.ingest.maxCameras),
            rtdcLayout: RtdcEventLayout(
                modelClasses: modelFile?.model.classes ?? [],
                optics: .init(
                    cropSize: parameters.cropSize, cropPixelUm: parameters.cropPixelUm,
                    hologramPixelUm: parameters.pixelUm, wavelengthNm: parameters.wavelengthNm,
                    maskThresholdNm: parameters.maskThresholdNm, mediumIndex: parameters.mediumIndex),
                holograms: hologramTileSide.map { .init(every: config.record.hologramEvery, side: $0) }),
            lab: config.record,
            maxCameras: config.ingest.maxCameras + 1,
            maxCameraBytes: max(FrameHeader.maxCameraIDBytes, config.inputs.map(\.endpoint.utf8.count).max() ?? 0),
            logger: logger)
        let stream = try config.nats.url.isEmpty || role == .worker
            ? nil : CellStream(settings: config.nats, startNanoseconds: startNanoseconds, logger: logger)
        var forward: CellPipeline.ForwardFrame?
        if let sender { forward = { frame, result, reason in sender.send(frame, result, rejection: reason) } }
        let pipeline = try Self.makePipeline(
            config: config, model: modelFile, workers: workerCount, ingest: ingest, publisher: publisher,
            recorder: recorder, stream: stream, cellFeed: cellFeed, hologramTileSide: hologramTileSide,
            rejectLog: malformedLog, startNanoseconds: startNanoseconds, metrics: metricsRegistry, logger: logger,
            forward: forward)
        let aggregator = try role == .aggregator
            ? DetectionAggregator(
                context: context, endpoint: config.scaleOut.listen, cameras: config.scaleOut.cameras,
                reorderTimeoutSeconds: config.scaleOut.reorderTimeoutSeconds, ingest: config.ingest, pipeline: pipeline,
                counters: ingest.counters, log: malformedLog, logger: logger)
            : nil
        let workers = FrameWorkers(
            queue: ingest.queue, count: role == .aggregator ? 0 : workerCount, idle: pipeline.idle
        ) { frame, worker in
            pipeline.process(frame, worker: worker)
            frameLatency.observe(nanoseconds: DispatchTime.now().uptimeNanoseconds - frame.arrivalNanoseconds)
        }
        let countsSource = CountsSource(counters: ingest.counters, cells: pipeline.tally, startNanoseconds: startNanoseconds)
        let counts = CountsService(
            publisher: publisher, ingest: ingest, counts: countsSource, stream: stream, notifier: notifier,
            interval: .milliseconds(Int64(config.countsIntervalSeconds * 1000)),
            staleAfterSeconds: config.staleAfterSeconds, logger: logger)
        let control = DaemonControl(
            config: config, model: modelFile?.info, pipeline: pipeline, recorder: recorder, counts: countsSource,
            threshold: threshold, loadConfig: loadConfig, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let zap { services.append(.init(service: AccessService(handler: zap))) }
        if let stream {
            services.append(.init(service: CellStreamService(stream: stream)))
            services.append(
                .init(
                    service: ModelRolloutService(
                        connection: stream.connection, rig: stream.rig, bucket: config.nats.bucket,
                        directory: RecordDirectory.resolve(configured: config.record.directory), control: control,
                        logger: logger)))
        }
        services.append(.init(service: counts))
        if role != .worker {
            services.append(
                .init(
                    service: RecordingService(
                        recorder: recorder, counts: countsSource,
                        interval: .milliseconds(Int64(config.record.flushIntervalSeconds * 1000)))))
        }
        if let listen = config.metricsListen, let cellFeed {
            let metrics = DaemonMetrics(
                ingest: ingest, pipeline: pipeline, recorder: recorder, access: zap, startNanoseconds: startNanoseconds,
                mirror: PrometheusMirror(registry: metricsRegistry), stream: stream)
            let dashboard = DashboardSource.daemon(
                feed: cellFeed, control: control,
                latencies: [("frame", frameLatency), ("frame_to_publish", pipeline.publishLatency)])
            let host = listen[..<(listen.lastIndex(of: ":") ?? listen.endIndex)]
            let server = try MonitoringServer(
                listen: listen, token: metricsToken, metrics: metrics.render,
                health: {
                    let alive = ingest.receiversAlive()
                    return .init(healthy: alive, detail: alive ? "ok" : "a receive thread is not turning")
                }, dashboard: dashboard, logger: logger,
                onRunning: { port in logger.info("metrics on http://\(host):\(port)/metrics, dashboard on http://\(host):\(port)/") })
            // A port that cannot bind stops the daemon gracefully (drained, recorded, final counts).
            services.append(.init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        services.append(
            .init(
                service: PipelineService(
                    ingest: ingest, workers: workers, aggregator: aggregator, sender: sender, pipeline: pipeline,
                    logger: logger)))
        if let endpoint = config.controlEndpoint {
            let server = try ControlServer(
                endpoint: endpoint, context: context, control: control, logger: logger, curve: access?.keys)
            services.append(.init(service: BackgroundServerService(name: "control", server: server, logger: logger)))
        }
        services += [
            .init(service: ReloadService(hangups: await UnixSignalsSequence(trapping: .sighup), control: control)),
            .init(service: SystemdService(notifier: notifier, ingest: ingest, workers: workers)),
        ]
        // Shut down in reverse order: systemd hears STOPPING first, SIGHUP and control commands
        // stop, the pipeline drains, the run's record ends, the counts service publishes the
        // final counts, and the NATS stream sends what is left.
        group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        self.ingest = ingest
        self.publisher = publisher
        self.context = context
        if role != .worker { control.startRecording() }
        let part = switch role {
            case .all: "\(workerCount) workers"
            case .worker: "role worker: \(workerCount) workers, detections to \(config.scaleOut.aggregator)"
            case .aggregator: "role aggregator: detections on \(config.scaleOut.listen)"
            }
        logger.info("flowd ready: libzmq \(ZMQContext.libraryVersion), \(part), publishing on \(publisher.endpoint)")
        if let access {
            let counts = access.allowed.sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key)" }
            logger.info("CurveZMQ on, server key \(access.keys.publicKey); allowed: \(counts.joined(separator: ", "))")
        }
    }

    /// Loads the reference file, if configured: a file that does not load stops the daemon
    /// here, before systemd hears READY, with the loader's message. Each published cell is also
    /// recorded (in the order published), and each object that is not a cell.
    private static func makePipeline(
        config: DaemonConfig, model file: ModelFile?, workers: Int, ingest: FrameIngest, publisher: ResultPublisher,
        recorder: RunRecorder, stream: CellStream?, cellFeed: CellFeed?, hologramTileSide: Int?,
        rejectLog: RateLimitedLog, startNanoseconds: UInt64, metrics: PrometheusCollectorRegistry, logger: Logger,
        forward: CellPipeline.ForwardFrame?
    ) throws -> CellPipeline {
        let settings = config.pipeline
        let model = file?.model
        if model == nil { logger.info("model.path: none: no classifier, cells are published as unclassified") }
        let reference = settings.referencePath.isEmpty ? nil : try HologramFiles.hologram(settings.referencePath)
        let pipeline = try CellPipeline(
            settings: settings, model: model, reference: reference, workers: workers, counters: ingest.counters,
            rejectLog: rejectLog, logger: logger, startNanoseconds: startNanoseconds, metrics: metrics,
            hologramTileSide: hologramTileSide,
            // An aggregator's label threads use one inference thread each: a team's helpers spin
            // 1–2 ms after each small batch (WorkerTeam), CPU taken from the workers beside it
            // (measured: 3.7 ms of aggregator CPU per frame with two threads; docs/benchmarks.md).
            inferenceThreads: config.scaleOut.role == .aggregator ? 1 : nil,
            recordRejected: { message, view in recorder.recordRejected(message, crop: view.crop, hologram: view.hologram) },
            forward: forward, delivered: config.scaleOut.role == .aggregator
        ) { message, view in
            let json = message.jsonBytes()
            do { try publisher.publish(.cell, json) } catch {
                logger.warning("could not publish cell \(message.camera)/\(message.cellID): \(error)")
            }
            recorder.record(message, crop: view.crop, hologram: view.hologram)
            stream?.enqueue(message, json: json, runID: recorder.run?.id.description ?? "none")
            cellFeed?.offer(message, crop: view.crop)
        }
        // After the inference contexts exist: they set OpenBLAS to one thread per call.
        if let file {
            let origin = settings.modelPath.isEmpty ? "the installed default model (model.path is empty)" : "model.path"
            logger.info(
                "model \(file.path), \(origin), sha256 \(file.sha256): \(file.model.summary); \(BLASRuntime.selection)")
        }
        return pipeline
    }

    func run() async throws {
        try await group.run()
        // Every socket is closed by now; terminating the context waits (up to publish.linger_ms)
        // until libzmq has sent the final counts, before the process may exit.
        await runOffCooperativePool { context.terminate() }
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    func stop() async {
        await group.triggerGracefulShutdown()
    }
}
