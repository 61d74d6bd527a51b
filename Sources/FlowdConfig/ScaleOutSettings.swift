/// How one `flowd run` takes part when a camera's frames are spread over several hosts
/// (`role`, `scale_out.*` in config/flowd.yaml; docs/scale-out.md). The default, `all`, is the
/// single process: one `flowd run` reconstructs, tracks, classifies and counts.
public struct ScaleOutSettings: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// Everything in one process (the default, what `flowd run` always was).
        case all
        /// Receives frames (the camera PUSHes them round-robin over the workers), reconstructs,
        /// refocuses, segments and measures, and PUSHes each frame's detections with their crops
        /// to the aggregator; tracks, classifies and counts nothing.
        case worker
        /// Receives the workers' detections, puts each camera's frames back in `seq` order,
        /// tracks, classifies, counts each cell once, records, publishes and streams.
        case aggregator
    }

    /// This process's part (`role`; `flowd run --role`).
    public var role = Role.all
    /// Worker: the aggregator's endpoint the worker's PUSH socket connects to
    /// (`scale_out.aggregator`; required for a worker).
    public var aggregator = ""
    /// Aggregator: the endpoint its PULL socket binds for the workers' detections
    /// (`scale_out.listen`; required for an aggregator).
    public var listen = ""
    /// Aggregator: the camera ids it aggregates (`scale_out.cameras`); empty: any, first come
    /// first served up to `ingest.max_cameras`. A detection naming another camera is counted
    /// as malformed (`unknown_camera`) under `other`.
    public var cameras: [String] = []
    /// Aggregator: how long, s, a camera's later frames wait for a missing `seq` before it is
    /// given up and counted lost (`not_returned`) (`scale_out.reorder_timeout_s`): longer than a
    /// worker's slowest frame, shorter than the latency anyone would wait for a count.
    public var reorderTimeoutSeconds = 2.0
    /// Aggregator: threads that classify the cells its tracker completes, each with its own
    /// inference context (`scale_out.label_threads`); 0: one per core. Classification is most
    /// of an aggregator's CPU: one thread limits one camera to what one core classifies.
    public var labelThreads = 0

    public init() {}

    /// The keys a role needs, checked once every source is applied: a worker without an
    /// aggregator, or an aggregator without an endpoint to listen on, is refused by name.
    func validate() throws(ConfigError) {
        switch role {
        case .all:
            return
        case .worker where aggregator.isEmpty:
            throw ConfigError("role worker needs scale_out.aggregator: the aggregator's endpoint, e.g. tcp://10.0.0.2:5570")
        case .aggregator where listen.isEmpty:
            throw ConfigError("role aggregator needs scale_out.listen: the endpoint to bind for the workers' detections, e.g. tcp://0.0.0.0:5570")
        case .worker, .aggregator:
            return
        }
    }
}
