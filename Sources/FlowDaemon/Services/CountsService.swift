import Foundation
import FrameIngest
import Logging
import Protocol
import ServiceLifecycle

/// Publishes `counts` at the configured cadence, logs a status line with the live cell
/// counts, and publishes the final `counts` when the daemon stops.
///
/// It is the first service of the group, so it is shut down last: by then the pipeline has
/// drained and the final message accounts for every frame.
struct CountsService: Service {
    let publisher: ResultPublisher
    let ingest: FrameIngest
    let counts: CountsSource
    /// Also gets each `counts` message, for the fleet's key-value bucket; nil without NATS.
    let stream: CellStream?
    let notifier: SystemdNotifier
    let interval: Duration
    let staleAfterSeconds: Double
    let logger: Logger

    func run() async throws {
        await repeatUntilGracefulShutdown(every: interval) { publish(final: false) }
        publish(final: true)
        publisher.close()
    }

    private func publish(final: Bool) {
        let message = counts.next(final: final)
        stream?.update(counts: message)
        do {
            try publisher.publish(.counts, message.jsonBytes())
        } catch {
            logger.warning("could not publish counts: \(error)")
        }
        let status = statusLine(message)
        notifier.status(status)
        logger.info("\(final ? "final: " : "")\(status)")
    }

    private func statusLine(_ counts: CountsMessage) -> String {
        let frames = counts.frames
        var line = "frames received \(frames.received), malformed \(frames.malformed), dropped \(frames.dropped), "
            + "gaps \(frames.gaps); queue \(ingest.queue.depth)/\(ingest.queue.capacity)"
        line += "; cells \(counts.cells.total) (\(String(format: "%.1f", counts.cells.perSecond))/s)"
        for (label, count) in counts.cells.byClass.sorted(by: { $0.key < $1.key }) { line += ", \(label) \(count)" }
        for (camera, counters) in counts.cameras.sorted(by: { $0.key < $1.key }) {
            if let idle = counters.secondsSinceLastFrame, idle > staleAfterSeconds {
                line += "; \(camera): stale, no frame for \(Int(idle)) s"
            }
        }
        return line
    }
}
