import Protocol

/// Tuning of the receive side (config section `ingest`, documented in config/flowd.yaml).
public struct IngestSettings: Sendable, Equatable {
    /// Frames waiting for a worker; beyond this, new frames are dropped and counted.
    public var queueCapacity: Int = 64
    /// libzmq's per-peer receive queue, in messages (ZMQ_RCVHWM).
    public var receiveHighWaterMark: Int32 = 100
    /// Shape and header bounds; also sets ZMQ_MAXMSGSIZE.
    public var limits = FrameLimits()
    /// Distinct camera ids tracked before further ids are pooled (see ``IngestCounters``).
    public var maxCameras: Int = 64

    public init() {}
}
