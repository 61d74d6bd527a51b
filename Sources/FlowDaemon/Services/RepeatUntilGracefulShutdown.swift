import ServiceLifecycle

/// Runs `tick` every `interval` until the graceful shutdown starts (then returns at once, so
/// that the caller does its final step).
func repeatUntilGracefulShutdown(every interval: Duration, _ tick: () async -> Void) async {
    while true {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } catch {
            return
        }
        await tick()
    }
}
