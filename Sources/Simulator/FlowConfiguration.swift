/// The flow through the field of view: frame size, speed, concentration and the sample's
/// composition. Cells enter at the left edge and travel along +x.
public struct FlowConfiguration: Sendable {
    /// Frame width (along the flow) and height, pixels.
    public var width = 1024
    public var height = 1024
    /// Cell speed, µm/s, and camera frame rate, frames/s: the displacement per frame is their
    /// ratio (default 20 µm/frame, so a 12 µm cell is seen in ≈ 6 frames of a 110 µm field).
    public var velocityUmPerSecond = 4000.0
    public var frameRate = 200.0
    /// Cells per µL of sample and the depth of the channel, µm; with the field height and the
    /// displacement per frame they give the expected arrivals per frame.
    public var concentrationPerMicrolitre = 2000.0
    public var channelDepthUm = 30.0
    /// Relative abundance of each kind of object (normalised when drawing).
    public var mixture: [CellClass: Double] = [.healthy: 1, .primaryCancer: 1, .metastaticCancer: 1]
    /// Cells are hydrodynamically focused into this central fraction of the field height.
    public var laneFraction = 0.7
    /// Smallest gap between the outlines of two cells, µm: a focused flow spaces cells out; the
    /// deliberately touching case is the `doublet` class.
    public var minimumGapUm = 4.0
    /// Start with the channel already flowing (cells spread over the field in frame 0) rather
    /// than empty.
    public var startFlowing = true
    /// Random seed: the same seed and configuration give the same frames, bit for bit.
    public var seed: UInt64 = 1

    public init() {}

    /// Displacement of a cell between consecutive frames, µm.
    public var umPerFrame: Double { velocityUmPerSecond / frameRate }

    /// Why the configuration cannot be simulated; `nil` when it is fine.
    public func validationError() -> String? {
        if !(frameRate > 0) { return "frame rate must be positive" }
        if !(velocityUmPerSecond > 0) { return "velocity must be positive" }
        if concentrationPerMicrolitre < 0 { return "concentration must not be negative" }
        if mixture.values.reduce(0, +) <= 0 || mixture.values.contains(where: { $0 < 0 }) {
            return "mixture weights must be non-negative with a positive sum"
        }
        if !(laneFraction > 0 && laneFraction <= 1) { return "lane fraction must be in (0, 1]" }
        return nil
    }
}
