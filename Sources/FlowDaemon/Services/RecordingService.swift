import Logging
import ServiceLifecycle

/// Flushes the recorded cells every `record.flush_interval_s` and, once the pipeline has
/// drained at shutdown, ends the run with the final counts: nothing published is lost on
/// SIGTERM, and at most one interval on SIGKILL.
///
/// It comes right after ``CountsService`` in the group, so it is shut down after the pipeline
/// (every cell is published by then) and before the final `counts` is published.
struct RecordingService: Service {
    let recorder: RunRecorder
    let counts: CountsSource
    let interval: Duration

    func run() async throws {
        await repeatUntilGracefulShutdown(every: interval) { await runOffCooperativePool { recorder.flush() } }
        await runOffCooperativePool { recorder.finish(counts: counts.current(final: true)) }
    }
}
