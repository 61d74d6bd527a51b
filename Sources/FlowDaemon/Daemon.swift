import Dispatch
import Foundation
import FlowdConfig
import FrameIngest
import Inference
import Logging
import ServiceLifecycle
import ZeroMQ

/// The flowd daemon: every socket bound and every service wired, ready to ``run()``.
///
/// Construction binds and connects all sockets, so that a bad endpoint fails before systemd is
/// told READY. ``run()`` runs the services until SIGTERM or SIGINT, then stops gracefully:
/// stop receiving, drain, publish the final `counts`, return.
struct Daemon: Sendable {
    let config: DaemonConfig
    let ingest: FrameIngest
    let publisher: ResultPublisher
    let logger: Logger
    private let context: ZMQContext
    private let group: ServiceGroup

    /// Throws ``ZMQError`` or ``MetricsServer/ServerError`` naming the endpoint that failed.
    init(config: DaemonConfig, logger: Logger, notifier: SystemdNotifier = SystemdNotifier()) throws {
        self.config = config
        self.logger = logger
        let context = ZMQContext()
        let malformedLog = RateLimitedLog(
            logger: logger, burst: config.malformedLogBurst, windowSeconds: config.malformedLogWindowSeconds)
        for warning in EndpointExposure.warnings(config) { logger.warning("\(warning)") }
        // The ZAP handler is bound before any CurveZMQ socket exists (see ZAPHandler).
        let access = try CurveAccess.load(config.curve)
        let zap = try access?.handler(context: context, refusals: malformedLog)
        let ingest = try FrameIngest(
            inputs: config.inputs, settings: config.ingest, context: context, malformedLog: malformedLog, logger: logger,
            curve: access?.keys)
        let publisher = try ResultPublisher(
            context: context, endpoint: config.publishEndpoint, linger: config.publishLingerMilliseconds,
            curve: access?.keys)
        let frameLatency = LatencyHistogram()
        let workerCount = config.workers > 0 ? config.workers : ProcessInfo.processInfo.activeProcessorCount
        let startNanoseconds = DispatchTime.now().uptimeNanoseconds
        let pipeline = try Self.makePipeline(
            config: config, workers: workerCount, ingest: ingest, publisher: publisher, rejectLog: malformedLog,
            startNanoseconds: startNanoseconds, logger: logger)
        let workers = FrameWorkers(queue: ingest.queue, count: workerCount, idle: pipeline.idle) { frame, worker in
            pipeline.process(frame, worker: worker)
            frameLatency.observe(nanoseconds: DispatchTime.now().uptimeNanoseconds - frame.arrivalNanoseconds)
        }
        let counts = CountsService(
            publisher: publisher, ingest: ingest, cells: pipeline.tally, notifier: notifier,
            interval: .milliseconds(Int64(config.countsIntervalSeconds * 1000)),
            staleAfterSeconds: config.staleAfterSeconds,
            startNanoseconds: startNanoseconds, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let zap { services.append(.init(service: AccessService(handler: zap))) }
        services.append(.init(service: counts))
        if let listen = config.metricsListen {
            let metrics = DaemonMetrics(
                ingest: ingest, pipeline: pipeline, access: zap, startNanoseconds: startNanoseconds, frameLatency: frameLatency)
            let server = try MetricsServer(listen: listen, metrics: metrics.render) {
                let alive = ingest.receiversAlive()
                return .init(healthy: alive, detail: alive ? "ok" : "a receive thread is not turning")
            }
            services.append(.init(service: MetricsService(server: server, logger: logger)))
        }
        services += [
            .init(service: PipelineService(ingest: ingest, workers: workers, pipeline: pipeline, logger: logger)),
            .init(service: SystemdService(notifier: notifier, ingest: ingest, workers: workers)),
        ]
        // Shut down in reverse order: systemd hears STOPPING first, the pipeline drains, and
        // the counts service publishes the final counts last.
        group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        self.ingest = ingest
        self.publisher = publisher
        self.context = context
        logger.info(
            "flowd ready: libzmq \(ZMQContext.libraryVersion), \(workerCount) workers, publishing on \(publisher.endpoint)")
        if let access {
            let counts = access.allowed.sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key)" }
            logger.info("CurveZMQ on, server key \(access.keys.publicKey); allowed: \(counts.joined(separator: ", "))")
        }
    }

    /// Loads the model and the reference file, if configured: a file that does not load stops
    /// the daemon here, before systemd hears READY, with the loader's message.
    private static func makePipeline(
        config: DaemonConfig, workers: Int, ingest: FrameIngest, publisher: ResultPublisher, rejectLog: RateLimitedLog,
        startNanoseconds: UInt64, logger: Logger
    ) throws -> CellPipeline {
        let settings = config.pipeline
        var model: Model?
        if !settings.modelPath.isEmpty {
            model = try Model(contentsOf: URL(fileURLWithPath: settings.modelPath))
        } else {
            logger.info("no model configured (model.path): cells are published as unclassified")
        }
        let reference = settings.referencePath.isEmpty ? nil : try HologramFiles.hologram(settings.referencePath)
        let pipeline = try CellPipeline(
            settings: settings, model: model, reference: reference, workers: workers, counters: ingest.counters,
            rejectLog: rejectLog, logger: logger, startNanoseconds: startNanoseconds
        ) { message in
            do { try publisher.publish(.cell, message.jsonBytes()) } catch {
                logger.warning("could not publish cell \(message.camera)/\(message.cellID): \(error)")
            }
        }
        // After the inference contexts exist: they set OpenBLAS to one thread per call.
        if let model { logger.info("model \(settings.modelPath): \(model.summary); \(BLASRuntime.selection)") }
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
