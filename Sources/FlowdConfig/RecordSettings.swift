/// Where each run is recorded and how often it reaches the disk (`record.*` in config/flowd.yaml).
public struct RecordSettings: Sendable, Equatable {
    /// Directory that holds one folder per run (`record.dir`); empty: the state directory
    /// (``RecordDirectory/resolve(configured:environment:)``).
    public var directory = ""
    /// Seconds between flushes of recorded cells to disk (`record.flush_interval_s`, 0.01–1): a
    /// SIGKILL or power loss loses at most the cells of the last interval.
    public var flushIntervalSeconds = 0.5
    /// Every how many recorded cells (and rejected objects) carry the raw hologram around them
    /// and the reference there, for reconstruction by other software (`record.hologram_every`;
    /// dclab's `qpi_oah`, `qpi_oah_bg`); 0: none. 1 keeps every one: ≈ 2 × 64 KB per event
    /// before compression at the default optics.
    public var hologramEvery = 0

    // What only the lab knows, for the metadata of each run's cells.rtdc (dclab's
    // `experiment:sample`, `setup:*`, `imaging:*`). Defaults: the digital twin's rig.

    /// The sample's name (`record.sample`); `flowd control new-run --sample NAME` sets it per run.
    public var sample = "unnamed sample"
    /// The medium the cells flow in (`record.medium`).
    public var medium = "culture medium"
    /// Flow rate in the channel, µL/s (`record.flow_rate_ul_s`; the twin: 4000 µm/s through
    /// 110 µm × 30 µm ≈ 0.0132 µL/s).
    public var flowRateMicrolitresPerSecond = 0.0132
    /// Width of the microfluidic channel, µm (`record.channel_width_um`).
    public var channelWidthUm = 110.0
    /// The camera's frame rate, Hz (`record.frame_rate_hz`).
    public var frameRateHz = 200.0
    /// The light source (`record.light_source`).
    public var lightSource = "low-coherence laser"
    /// Exposure (flash) time per frame, µs (`record.exposure_us`).
    public var exposureMicroseconds = 20.0

    public init() {}
}
