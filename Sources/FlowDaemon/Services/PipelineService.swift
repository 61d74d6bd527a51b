import FrameIngest
import Foundation
import Logging
import ServiceLifecycle

/// Runs ingest and the frame workers (or, `role: aggregator`, the workers' detections); on
/// graceful shutdown stops receiving, drains what was already received through the workers,
/// reports the cells still in view (``CellPipeline/finish()``), and only then returns, so that
/// the final `counts` (published by ``CountsService``, shut down after this one) accounts for
/// every frame.
struct PipelineService: Service {
    let ingest: FrameIngest
    let workers: FrameWorkers
    /// `role: aggregator`: the detections' receiver, which feeds `pipeline` on its own thread.
    let aggregator: DetectionAggregator?
    /// `role: worker`: closed once the last frame's detections are handed to libzmq, which
    /// delivers them within `publish.linger_ms` as the process ends.
    let sender: DetectionSender?
    let pipeline: CellPipeline
    let logger: Logger

    func run() async throws {
        ingest.start()
        workers.start()
        aggregator?.start()
        if let aggregator {
            logger.info("receiving detections on \(aggregator.endpoint)")
        } else {
            logger.info("receiving on \(ingest.inputs.map(\.description).joined(separator: ", "))")
        }
        try? await gracefulShutdown()
        logger.info("stopping: draining received frames")
        await runOffCooperativePool {
            ingest.stop()
            workers.waitUntilFinished()
            aggregator?.stop()
            pipeline.finish()
            sender?.close()
        }
    }
}

/// Runs blocking work on a plain thread, so that Swift concurrency's few cooperative threads
/// are never parked in a wait.
func runOffCooperativePool(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread.detachNewThread {
            body()
            continuation.resume()
        }
    }
}
