import Foundation

/// The JSON header of frame message v1 (docs/protocol.md).
///
/// Byte-compatible with pyzmq's `send_array` recipe (`{"dtype", "shape"}`) and with imagezmq's
/// `send_array` (`{"msg", "dtype", "shape"}`); the optional keys carry what a holographic rig
/// knows about the frame. Unknown keys are ignored so that senders can add their own.
public struct FrameHeader: Sendable, Equatable {
    /// Pixel type of the raw buffer that follows.
    public var dtype: PixelType
    /// Image height, pixels.
    public var rows: Int
    /// Image width, pixels.
    public var cols: Int
    /// Camera id (`camera` key). Falls back to imagezmq's `msg` (its sender name).
    public var camera: String?
    /// Frame counter of the camera; a jump of more than one is a sequence gap.
    public var seq: UInt64?
    /// Acquisition time, ns since the Unix epoch (`time.time_ns()` in Python).
    public var timeNanoseconds: Int64?
    /// Illumination wavelength, nm.
    public var wavelengthNm: Double?
    /// Pixel pitch in the sample plane (camera pixel / magnification), µm.
    public var pixelUm: Double?

    public init(
        dtype: PixelType, rows: Int, cols: Int, camera: String? = nil, seq: UInt64? = nil,
        timeNanoseconds: Int64? = nil, wavelengthNm: Double? = nil, pixelUm: Double? = nil
    ) {
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.camera = camera
        self.seq = seq
        self.timeNanoseconds = timeNanoseconds
        self.wavelengthNm = wavelengthNm
        self.pixelUm = pixelUm
    }

    /// Bytes the pixel buffer must have: rows · cols · itemsize.
    public var payloadBytes: Int { rows * cols * dtype.itemSize }

    /// Longest accepted camera id, in UTF-8 bytes: ids key counters and file names.
    public static let maxCameraIDBytes = 64

    /// 1 to ``maxCameraIDBytes`` bytes, printable characters only: an id names counters, metric
    /// labels and file records.
    public static func isValidCameraID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maxCameraIDBytes
            && id.unicodeScalars.allSatisfy { !JSONValue.unprintable.contains($0.properties.generalCategory) }
    }
}

extension FrameHeader {
    /// Decodes and validates a header; every failure names the key and what was expected.
    public init(json bytes: UnsafeRawBufferPointer, limits: FrameLimits) throws(FrameDecodingError) {
        guard bytes.count <= limits.maxHeaderBytes else {
            throw FrameDecodingError(
                .headerTooLarge,
                "header is \(bytes.count) bytes, more than the \(limits.maxHeaderBytes) allowed; "
                    + "the first part must be the small JSON header, the second the pixels")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw FrameDecodingError(.headerNotUTF8, "header is not valid UTF-8 JSON")
        }
        let object: [String: JSONValue]
        do {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
            guard case .object(let fields) = value else {
                throw FrameDecodingError(
                    .headerNotObject, "header must be a JSON object such as "
                        + #"{"dtype": "uint16", "shape": [1024, 1024]}"#)
            }
            object = fields
        } catch let error as FrameDecodingError {
            throw error
        } catch {
            throw FrameDecodingError(
                .headerNotJSON,
                "header is not valid JSON; send it with send_json (NaN and Infinity are not JSON, and "
                    + "pickled objects are never accepted)")
        }
        do {
            try self.init(fields: object, limits: limits)
        } catch var error {
            error.camera = Self.cameraIDIfValid(object)
            throw error
        }
    }

    private init(fields: [String: JSONValue], limits: FrameLimits) throws(FrameDecodingError) {
        guard let dtypeValue = fields["dtype"] else {
            throw FrameDecodingError(.missingDtype, #"header has no "dtype" (uint8, uint16 or float32)"#)
        }
        guard case .string(let dtypeName) = dtypeValue, let dtype = PixelType(numpyName: dtypeName) else {
            throw FrameDecodingError(
                .unsupportedDtype,
                #""dtype" is \#(dtypeValue), but only uint8, uint16 and float32 (little-endian) are accepted"#)
        }
        guard let shapeValue = fields["shape"] else {
            throw FrameDecodingError(.missingShape, #"header has no "shape" ([rows, cols])"#)
        }
        let (rows, cols) = try Self.imageShape(shapeValue)
        guard rows <= limits.maxRows, cols <= limits.maxCols else {
            throw FrameDecodingError(
                .shapeTooLarge,
                #""shape" [\#(rows), \#(cols)] exceeds the configured limit [\#(limits.maxRows), \#(limits.maxCols)]"#)
        }
        self.init(dtype: dtype, rows: rows, cols: cols)
        let sender = try Self.cameraID(fields["msg"], key: "msg")
        camera = try Self.cameraID(fields["camera"], key: "camera") ?? sender
        seq = try fields["seq"].map { v throws(FrameDecodingError) in
            switch v {
            case .integer(let n) where n >= 0: UInt64(n)
            case .unsigned(let n): n
            default: throw Self.badField("seq", v, "a non-negative integer")
            }
        }
        timeNanoseconds = try fields["t_ns"].map { v throws(FrameDecodingError) in
            guard case .integer(let n) = v else { throw Self.badField("t_ns", v, "an integer (ns since the epoch)") }
            return n
        }
        wavelengthNm = try Self.positive(fields["wavelength_nm"], key: "wavelength_nm")
        pixelUm = try Self.positive(fields["pixel_um"], key: "pixel_um")
    }

    /// `[rows, cols]` or `[rows, cols, 1]`, each a positive integer.
    private static func imageShape(_ value: JSONValue) throws(FrameDecodingError) -> (Int, Int) {
        let expected = #""shape" must be [rows, cols] or [rows, cols, 1] with positive integers"#
        guard case .array(let items) = value, items.count == 2 || items.count == 3 else {
            throw FrameDecodingError(.badShape, "\(expected), got \(value)")
        }
        var dims: [Int] = []
        for item in items {
            guard case .integer(let n) = item, n > 0, n <= Int64(Int32.max) else {
                throw FrameDecodingError(.badShape, "\(expected), got \(value)")
            }
            dims.append(Int(n))
        }
        if dims.count == 3 && dims[2] != 1 {
            throw FrameDecodingError(
                .badShape, "\(expected), got \(value): holograms are single-channel (grayscale)")
        }
        return (dims[0], dims[1])
    }

    private static func cameraID(_ value: JSONValue?, key: String) throws(FrameDecodingError) -> String? {
        guard let value else { return nil }
        guard case .string(let id) = value, isValidCameraID(id) else {
            throw badField(key, value, "a printable string of 1 to \(maxCameraIDBytes) bytes")
        }
        return id
    }

    /// The camera id of a header that failed validation, if it carries a valid one.
    private static func cameraIDIfValid(_ fields: [String: JSONValue]) -> String? {
        let camera = try? cameraID(fields["camera"], key: "camera")
        let sender = try? cameraID(fields["msg"], key: "msg")
        return camera ?? sender ?? nil
    }

    private static func positive(_ value: JSONValue?, key: String) throws(FrameDecodingError) -> Double? {
        guard let value else { return nil }
        let number: Double? =
            switch value {
            case .integer(let n): Double(n)
            case .unsigned(let n): Double(n)
            case .double(let x): x
            default: nil
            }
        guard let number, number.isFinite, number > 0 else {
            throw badField(key, value, "a positive number")
        }
        return number
    }

    private static func badField(_ key: String, _ value: JSONValue, _ expected: String) -> FrameDecodingError {
        FrameDecodingError(.badField, #""\#(key)" is \#(value), expected \#(expected)"#)
    }

    /// The header as compact JSON, as a Python sender would write it.
    public func jsonBytes() -> [UInt8] {
        var fields: [String: JSONValue] = [
            "dtype": .string(dtype.rawValue),
            "shape": .array([.integer(Int64(rows)), .integer(Int64(cols))]),
        ]
        if let camera { fields["camera"] = .string(camera) }
        if let seq { fields["seq"] = .unsigned(seq) }
        if let timeNanoseconds { fields["t_ns"] = .integer(timeNanoseconds) }
        if let wavelengthNm { fields["wavelength_nm"] = .double(wavelengthNm) }
        if let pixelUm { fields["pixel_um"] = .double(pixelUm) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding a tree of plain JSON values cannot fail.
        return Array(try! encoder.encode(JSONValue.object(fields)))
    }
}
