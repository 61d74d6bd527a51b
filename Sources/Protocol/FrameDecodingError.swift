/// Why a message on a camera socket is not a valid frame message v1.
///
/// ``reason`` is a stable snake_case code: it keys the per-camera `malformed_by_reason`
/// counters in the `counts` message and the log lines, so dashboards can rely on it.
/// ``description`` says what was wrong and what the sender should do instead.
public struct FrameDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable, Codable {
        case wrongPartCount = "wrong_part_count"
        case headerTooLarge = "header_too_large"
        case headerNotUTF8 = "header_not_utf8"
        case headerNotJSON = "header_not_json"
        case headerNotObject = "header_not_object"
        case missingDtype = "missing_dtype"
        case unsupportedDtype = "unsupported_dtype"
        case missingShape = "missing_shape"
        case badShape = "bad_shape"
        case shapeTooLarge = "shape_too_large"
        case badField = "bad_field"
        case payloadSizeMismatch = "payload_size_mismatch"
        case nonFinitePixels = "non_finite_pixels"
        case saturated = "saturated"
        /// A valid frame from a camera id beyond the `ingest.max_cameras` the daemon tracks
        /// (decided by the ingest's counters, not by the decoder).
        case unknownCamera = "unknown_camera"
    }

    public let reason: Reason
    public let message: String
    /// The camera the message named, when its header got that far; its counters take the blame.
    public var camera: String?

    public init(_ reason: Reason, _ message: String, camera: String? = nil) {
        self.reason = reason
        self.message = message
        self.camera = camera
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
