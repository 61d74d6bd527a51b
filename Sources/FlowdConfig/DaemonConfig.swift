import FrameIngest
import Logging
import Protocol

/// Everything `flowd run` can be told, with its defaults.
///
/// Each key is documented where the daemon reads it, in ``ConfigKey/all``, and with its default
/// value in config/flowd.yaml (a test keeps the two equal). Sources, lowest priority first:
/// these defaults, the YAML file (`--config`), the environment (`FLOWD_PUBLISH_ENDPOINT` for
/// `publish.endpoint`), the command line (`--set publish.endpoint=…`, `--input`, `--publish`).
public struct DaemonConfig: Sendable, Equatable {
    /// Camera inputs (`inputs`).
    public var inputs: [InputSpec] = [InputSpec(mode: .sub, endpoint: "tcp://127.0.0.1:5555")]
    /// PUB endpoint flowd binds for results (`publish.endpoint`).
    public var publishEndpoint = "tcp://127.0.0.1:5560"
    /// Seconds between `counts` messages (`publish.counts_interval_s`).
    public var countsIntervalSeconds = 1.0
    /// How long, ms, the stopping daemon may spend delivering its last messages (`publish.linger_ms`).
    public var publishLingerMilliseconds: Int32 = 1000
    /// HOST:PORT of the HTTP server for `/metrics` and `/healthz`, or nil when off (`metrics.listen`).
    public var metricsListen: String? = "127.0.0.1:9464"
    /// A file holding the token the monitoring port requires; needed when `metrics.listen` is
    /// beyond loopback (`metrics.token_file`; nil: none).
    public var metricsTokenFile: String?
    /// CurveZMQ on the inputs, the result socket and the control socket (`curve.*`).
    public var curve = CurveSettings()
    /// Receive side (`ingest.*`).
    public var ingest = IngestSettings()
    /// Seconds without frames after which a camera is reported stale (`ingest.stale_after_s`).
    public var staleAfterSeconds = 5.0
    /// Reconstruction, tracking and classification (`model.*`, `reconstruction.*`, `tracking.*`,
    /// `classify.*`).
    public var pipeline = PipelineSettings()
    /// Where and how often each run's cells are written to disk (`record.*`).
    public var record = RecordSettings()
    /// Streaming to NATS JetStream for a fleet of rigs (`nats.*`).
    public var nats = NATSSettings()
    /// This process's part when frames are spread over hosts (`role`, `scale_out.*`).
    public var scaleOut = ScaleOutSettings()
    /// REP endpoint flowd binds for control commands, or nil when off (`control.endpoint`).
    public var controlEndpoint: String? = "tcp://127.0.0.1:5561"
    /// Frame workers; 0 = one per core (`workers`).
    public var workers = 0
    /// Minimum log level (`log.level`).
    public var logLevel = Logger.Level.info
    /// Malformed-frame log lines per camera and reason in each window (`log.malformed_burst`).
    public var malformedLogBurst = 10
    /// The window of `log.malformed_burst`, seconds (`log.malformed_window_s`).
    public var malformedLogWindowSeconds = 10.0

    public init() {}
}
