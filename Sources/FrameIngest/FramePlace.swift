/// Where a received frame sits among its camera's frames, in two counts.
///
/// - `ordinal`: among the frames received and queued (0, 1, 2, … with no holes), the order the
///   workers' results are put back in; a hole would stall the camera's reorder buffer.
/// - `flowFrame`: among the frames of the camera's flow, counting those dropped because the queue
///   was full and those its `seq` says never arrived: the tracker's clock. A cell moves by its
///   velocity in every frame of the flow, processed or not, so a track must be predicted across
///   the frames that were lost; counted by ordinal, a lost frame would double a cell's apparent
///   step, break its track and count the cell twice.
public struct FramePlace: Sendable, Equatable {
    public var ordinal: UInt64
    public var flowFrame: UInt64

    public init(ordinal: UInt64, flowFrame: UInt64) {
        self.ordinal = ordinal
        self.flowFrame = flowFrame
    }
}
