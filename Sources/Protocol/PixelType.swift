/// The pixel types a camera may send in frame message v1.
///
/// The header's `dtype` is NumPy's `str(array.dtype)` (what pyzmq's `send_array` recipe and
/// imagezmq send: `"uint8"`, `"uint16"`, `"float32"`) or NumPy's byte-order-qualified
/// `array.dtype.str` (`"|u1"`, `"<u2"`, `"<f4"`). Pixels are little-endian, C order.
public enum PixelType: String, Sendable, CaseIterable, Codable {
    case uint8
    case uint16
    case float32

    /// Bytes per pixel.
    public var itemSize: Int {
        switch self {
        case .uint8: 1
        case .uint16: 2
        case .float32: 4
        }
    }

    /// Parses a NumPy dtype name; `nil` for anything else (big-endian included).
    public init?(numpyName: String) {
        switch numpyName {
        case "uint8", "|u1", "u1", "<u1": self = .uint8
        case "uint16", "<u2": self = .uint16
        case "float32", "<f4": self = .float32
        default: return nil
        }
    }
}
