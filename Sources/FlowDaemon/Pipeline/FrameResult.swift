import Reconstruction

/// What one frame leaves for its camera's tracker.
struct FrameResult: Sendable {
    /// The frame's ``FrameIngest/ReceivedFrame/ordinal``: its place in the camera's order.
    var ordinal: UInt64
    /// The frame's ``FrameIngest/FramePlace/flowFrame``: the tracker's clock.
    var flowFrame: UInt64
    /// Cells found, each with its crop when a model is configured (cells are classified once
    /// their track is complete, not here); `nil` when the frame was rejected (the tracker then
    /// skips it, as a frame the camera never sent).
    var cells: [DetectedCell]?
    /// From the frame header, when the camera sent them.
    var seq: UInt64?
    var tNanoseconds: Int64?
    /// The background left after the plane fit, nm RMS (``BackgroundPlane/residualRms``): the
    /// camera's reference drift, recorded by its stage.
    var backgroundRmsNm: Double?
    /// Arrival time, monotonic ns.
    var arrivalNanoseconds: UInt64
}
