/// Where the daemon streams its cells, counts and heartbeat for a fleet of rigs: NATS JetStream
/// (`nats.*` in config/flowd.yaml; docs/scale-out.md). Off by default: one rig needs none of it.
public struct NATSSettings: Sendable, Equatable {
    /// Server URL(s), `nats://host:4222` or `tls://…`, comma-separated for a cluster
    /// (`nats.url`); empty: off.
    public var url = ""
    /// This rig's name in subjects and keys (`nats.rig`; letters, digits, `_`, `-`); empty: the
    /// host name, with other characters replaced by `_`.
    public var rig = ""
    /// The stream that stores every cell (`nats.stream`), created if missing with subjects
    /// `flowd.*.*.cells`, the limits below and a duplicate window of `nats.buffer_max_age_s`.
    public var stream = "FLOWD_CELLS"
    /// The stream's limits when flowd creates it: age, s, and size, bytes (`nats.stream_max_age_s`,
    /// `nats.stream_max_bytes`).
    public var streamMaxAgeSeconds = 7.0 * 86400
    public var streamMaxBytes: Int64 = 1 << 30
    /// Key-value bucket for each rig's latest counts and heartbeat (`nats.bucket`).
    public var bucket = "flowd"
    /// A `.creds` file (user JWT and seed) for servers that require one (`nats.credentials`);
    /// empty: none.
    public var credentialsFile = ""
    /// PEM certificates of the authority that signs the server's TLS certificate — a lab's own
    /// CA (`nats.tls_ca`); setting it asks for TLS. Empty: a `tls://` URL trusts the system's
    /// authorities.
    public var trustedCAFile = ""
    /// Cells waiting for the stream, at most (`nats.buffer_cells`): while NATS is away the rig
    /// goes on and keeps the newest this many; older ones are given up and counted lost.
    public var bufferCells = 100_000
    /// A cell not stored within this many seconds is given up and counted lost
    /// (`nats.buffer_max_age_s`); also the stream's duplicate window, so that a cell sent again
    /// is never stored twice.
    public var bufferMaxAgeSeconds = 600.0

    public init() {}
}
