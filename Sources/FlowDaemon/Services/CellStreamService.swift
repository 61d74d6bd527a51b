import ServiceLifecycle

/// Runs the NATS JetStream stream of cells (``CellStream``) while the daemon runs.
///
/// It comes before ``CountsService`` in the group, so it is shut down after the pipeline has
/// drained (every cell is queued by then) and the final counts are out: it sends what is left
/// for up to ``CellStream/shutdownDrainSeconds``, counts the rest as lost at shutdown, and puts
/// the final counts into the key-value bucket.
struct CellStreamService: Service {
    let stream: CellStream

    func run() async throws {
        stream.start()
        try? await gracefulShutdown()
        await runOffCooperativePool { stream.stop() }
    }
}
