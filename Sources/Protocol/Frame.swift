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
        try Self.checkPixels(parts[1], of: header, limits: limits)
        self.init(header: header, pixels: PixelBuffer(copying: parts[1]))
    }

    /// Refuses pixels that cannot be a hologram (docs/protocol.md): a NaN or infinity in a
    /// float32 frame, which the Fourier transform would spread over the whole OPD map, and a
    /// frame with more than ``FrameLimits/maxSaturatedFraction`` of its pixels at full scale,
    /// whose clipped fringes carry no phase. Either is counted, never half-processed.
    private static func checkPixels(
        _ pixels: UnsafeRawBufferPointer, of header: FrameHeader, limits: FrameLimits
    ) throws(FrameDecodingError) {
        if header.dtype == .float32, let index = PixelScan.firstNonFinite(float32: pixels) {
            let value = Float(bitPattern: UInt32(littleEndian: pixels.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
            throw FrameDecodingError(
                .nonFinitePixels,
                "pixel (\(index / header.cols), \(index % header.cols)) is \(value); float32 pixels must be finite "
                    + "intensities (mark bad pixels with a finite value, e.g. 0)",
                camera: header.camera)
        }
        let clipped = PixelScan.fullScaleCount(pixels, type: header.dtype)
        let total = header.rows * header.cols
        if Double(clipped) > limits.maxSaturatedFraction * Double(total) {
            let fullScale = header.dtype == .uint8 ? Int(UInt8.max) : Int(UInt16.max)
            throw FrameDecodingError(
                .saturated,
                "\(clipped) of \(total) pixels are at full scale (\(fullScale)), more than the "
                    + "\(limits.maxSaturatedFraction * 100)% allowed (ingest.max_saturated_fraction); "
                    + "reduce the exposure or the illumination",
                camera: header.camera)
        }
    }
}
