/// Bounds on what a frame may claim, checked before any pixel is touched, so that a bad header
/// can never make the daemon allocate or read more than the operator allowed.
public struct FrameLimits: Sendable, Equatable {
    /// Largest accepted number of rows (pixels).
    public var maxRows: Int
    /// Largest accepted number of columns (pixels).
    public var maxCols: Int
    /// Largest accepted header, in bytes. Real headers are about 100 bytes.
    public var maxHeaderBytes: Int
    /// Largest fraction of an integer frame's pixels that may sit at full scale (255, 65535)
    /// before the frame counts as saturated; 1 accepts any frame. A few hot pixels or a glint
    /// are far below the default 1 %; an over-exposed camera is far above it.
    public var maxSaturatedFraction: Double

    public init(maxRows: Int = 4096, maxCols: Int = 4096, maxHeaderBytes: Int = 4096, maxSaturatedFraction: Double = 0.01) {
        self.maxRows = maxRows
        self.maxCols = maxCols
        self.maxHeaderBytes = maxHeaderBytes
        self.maxSaturatedFraction = maxSaturatedFraction
    }

    /// The largest pixel buffer these limits allow, in bytes (float32 at the largest shape).
    public var maxPayloadBytes: Int { maxRows * maxCols * PixelType.float32.itemSize }

    /// The largest message part worth reading (ZMQ_MAXMSGSIZE): the larger of the largest pixel
    /// buffer and the largest header, so that an oversized header is still read and counted
    /// (`header_too_large`), and never less than 4 KiB, which ZeroMQ's own handshake commands
    /// need (a CurveZMQ INITIATE is about 300 bytes).
    public var maxMessagePartBytes: Int { max(maxPayloadBytes, maxHeaderBytes, 4096) }
}
