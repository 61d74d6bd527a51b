import ServiceLifecycle
import UnixSignals

/// Reloads the config and the model on each SIGHUP (``DaemonControl/reloadConfiguration()``),
/// until the graceful shutdown. `hangups` is made before the daemon says READY, so that a
/// SIGHUP from then on is never the default action (which would end the process).
struct ReloadService: Service {
    let hangups: UnixSignalsSequence
    let control: DaemonControl

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                await runOffCooperativePool { control.reloadConfiguration() }
            }
        }
    }
}
