/// The flow through the field of view: frame size, speed, concentration, the sample's
/// composition, and how cells sit and move in the channel's depth. Cells enter at the left edge
/// and travel along +x. The defaults are the ideal conditions (``TwinConditions``).
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
    /// Where cells sit in the channel's depth: all on its mid-plane (the focal plane: every
    /// cell in focus) or each at a random depth (then out of focus by its distance from the
    /// mid-plane, and, in a Poiseuille profile, at its own speed).
    public var cellDepth: CellDepth = .midPlane
    /// How speed varies over the channel's depth.
    public var profile: FlowProfile = .plug
    /// Largest in-plane rotation of a cell between frames, degrees: each cell turns at its own
    /// constant rate, drawn uniformly from ±this (0: no rotation).
    public var rotationDegreesPerFrame = 0.0
    /// How debris looks.
    public var debrisStyle: DebrisStyle = .dense
    /// The distributions the labelled cells are drawn from.
    public var classParameters: ClassParameters.Name = .standard

    public init() {}

    /// Cell depth in the channel.
    public enum CellDepth: String, Sendable, CaseIterable, Codable {
        /// Every cell centred on the mid-plane, which is the focal plane.
        case midPlane = "mid-plane"
        /// Uniform over the depths where the cell fits: its centre at least its half-height, and
        /// at least ``FlowConfiguration/wallClearanceUm``, from both walls.
        case random
    }

    /// The speed profile over the channel's depth.
    public enum FlowProfile: String, Sendable, CaseIterable, Codable {
        /// Every cell at `velocityUmPerSecond`.
        case plug
        /// Laminar flow between two plates (a channel much wider than deep): v(z) =
        /// v_max·(1 − (2z/D)²), z from the mid-plane, D the depth (White, *Viscous Fluid Flow*,
        /// plane Poiseuille flow). v_max is set so that a typical labelled cell (half-height
        /// ``FlowConfiguration/typicalHalfHeightUm``) at a uniformly random depth moves at
        /// `velocityUmPerSecond` on average.
        case poiseuille
    }

    /// Nearest a cell's centre comes to a wall, µm, however flat the cell (hydrodynamic wall
    /// lift keeps particles off the walls; it also bounds the slowest speed at ≈ 0.3 × mean).
    public static let wallClearanceUm = 2.0
    /// Half-height of a typical labelled cell (12 µm × 0.8 / 2), µm: the cell whose mean speed
    /// over random depths is `velocityUmPerSecond`.
    public static let typicalHalfHeightUm = 4.8

    /// Speed on the channel's mid-plane (the profile's maximum), µm/s.
    public var centreVelocityUmPerSecond: Double {
        switch profile {
        case .plug: return velocityUmPerSecond
        case .poiseuille:
            // With u = 2z/D uniform on [−a, a], the mean of 1 − u² is 1 − a²/3.
            let a = max(0, 1 - 2 * Self.typicalHalfHeightUm / channelDepthUm)
            return velocityUmPerSecond / (1 - a * a / 3)
        }
    }

    /// Speed of a cell whose centre is `depthUm` from the mid-plane, µm/s.
    public func velocity(atDepthUm depthUm: Double) -> Double {
        switch profile {
        case .plug: return velocityUmPerSecond
        case .poiseuille:
            let u = 2 * depthUm / channelDepthUm
            return centreVelocityUmPerSecond * (1 - u * u)
        }
    }

    /// The slowest speed any object can have, over `velocityUmPerSecond`: what bounds the time
    /// to cross the field.
    public var slowestSpeedFraction: Double {
        switch (profile, cellDepth) {
        case (.plug, _): 1
        case (.poiseuille, .midPlane): centreVelocityUmPerSecond / velocityUmPerSecond
        case (.poiseuille, .random): velocity(atDepthUm: channelDepthUm / 2 - Self.wallClearanceUm) / velocityUmPerSecond
        }
    }

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
        if !(channelDepthUm > 2 * Self.wallClearanceUm && channelDepthUm <= 1000) {
            return "channel depth \(channelDepthUm) µm must be more than \(2 * Self.wallClearanceUm) µm and at most 1000 µm"
        }
        if !(rotationDegreesPerFrame >= 0 && rotationDegreesPerFrame <= 90) {
            return "rotation \(rotationDegreesPerFrame)°/frame must be in 0–90°"
        }
        return nil
    }
}
