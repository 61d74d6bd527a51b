/// One decoded camera frame: its validated header and its pixels.
public struct Frame: Sendable {
    public let header: FrameHeader
    public let pixels: PixelBuffer

    public init(header: FrameHeader, pixels: PixelBuffer) {
        precondition(pixels.count == header.payloadBytes, "pixel buffer does not match the header's shape")
        self.header = header
        self.pixels = pixels
    }
}

extension Frame {
    /// Decodes frame message v1 from the parts of one ZeroMQ multipart message:
    /// `[JSON header, raw pixel buffer]`. The pixels are copied once, into 64-byte aligned
    /// memory that the reconstruction can read with vector loads.
    public init(parts: [UnsafeRawBufferPointer], limits: FrameLimits) throws(FrameDecodingError) {
        guard parts.count == 2 else {
            throw FrameDecodingError(
                .wrongPartCount,
                "message has \(parts.count) part(s); a frame is exactly 2: [JSON header, pixel buffer]")
        }
        let header = try FrameHeader(json: parts[0], limits: limits)
        guard parts[1].count == header.payloadBytes else {
            throw FrameDecodingError(
                .payloadSizeMismatch,
                "pixel buffer is \(parts[1].count) bytes, but shape [\(header.rows), \(header.cols)] of "
                    + "\(header.dtype.rawValue) needs \(header.payloadBytes) bytes",
                camera: header.camera)
        }
        self.init(header: header, pixels: PixelBuffer(copying: parts[1]))
    }
}
