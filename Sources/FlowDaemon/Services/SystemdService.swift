import Dispatch
import FrameIngest
import ServiceLifecycle

/// Tells systemd the daemon is ready, keeps its watchdog fed while the daemon is healthy, and
/// says STOPPING when the graceful shutdown starts (it is the last service of the group, so it
/// is the first to hear of the shutdown).
///
/// Healthy means: every receive thread is turning, and the workers made progress since the
/// last check or have nothing to do. A wedged pipeline stops the pings, and systemd restarts
/// the daemon after `WatchdogSec`.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let ingest: FrameIngest
    let workers: FrameWorkers

    func run() async throws {
        notifier.ready(status: "receiving on \(ingest.inputs.map(\.description).joined(separator: ", "))")
        if let interval = notifier.watchdogInterval {
            var lastProcessed = workers.processed.load(ordering: .relaxed)
            while !Task.isShuttingDownGracefully {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval / 2) }
                } catch {
                    break
                }
                let processed = workers.processed.load(ordering: .relaxed)
                let progressing = processed != lastProcessed || ingest.queue.depth == 0
                lastProcessed = processed
                if ingest.receiversAlive() && progressing { notifier.watchdog() }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.stopping()
    }
}
