import Foundation
import Protocol

/// A parsed safetensors file (Hugging Face's format, https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length `n`, `n` bytes of JSON that map each tensor name to its
/// `dtype`, `shape` and `data_offsets` [begin, end) into the byte buffer that follows, and an
/// optional `__metadata__` object of string values.
///
/// Everything is checked before any weight is used: the header length against the file size,
/// each tensor's offsets against the buffer, and each byte count against dtype × shape.
struct SafeTensors {
    /// Element types this loader converts to `Float`: the weights are F32, or F16/BF16 halves.
    enum DType: String {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"

        var size: Int { self == .f32 ? 4 : 2 }
    }

    struct Entry {
        var dtypeName: String
        var shape: [Int]
        /// Byte range within the data buffer (after the header).
        var begin: Int
        var end: Int
    }

    /// Largest JSON header accepted (the reference implementation's limit is 100 MB).
    static let maxHeaderBytes = 100_000_000

    let entries: [String: Entry]
    let metadata: [String: String]
    private let bytes: [UInt8]
    private let dataStart: Int

    init(bytes: [UInt8]) throws(ModelError) {
        guard bytes.count >= 8 else {
            throw ModelError("truncated file: \(bytes.count) bytes; a safetensors file starts with an 8-byte header length")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(Self.maxHeaderBytes) else {
            throw ModelError("bad header length at byte offset 0: \(length) bytes (limit \(Self.maxHeaderBytes)); not a safetensors file?")
        }
        guard Int(length) <= bytes.count - 8 else {
            throw ModelError("bad header length at byte offset 0: \(length) bytes, but only \(bytes.count - 8) bytes follow (truncated file?)")
        }
        let header: JSONValue
        do {
            header = try JSONDecoder().decode(JSONValue.self, from: Data(bytes[8..<(8 + Int(length))]))
        } catch {
            throw ModelError("the header at byte offset 8 (\(length) bytes) is not valid JSON")
        }
        guard case .object(let object) = header else {
            throw ModelError("the header at byte offset 8 is not a JSON object")
        }
        dataStart = 8 + Int(length)
        let dataBytes = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard case .object(let m) = value else { throw ModelError("__metadata__ is not a JSON object") }
                for (k, v) in m {
                    guard case .string(let s) = v else { throw ModelError("__metadata__[\"\(k)\"] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value,
                case .string(let dtype)? = fields["dtype"],
                case .array(let shapeValues)? = fields["shape"],
                case .array(let offsets)? = fields["data_offsets"], offsets.count == 2
            else {
                throw ModelError("tensor '\(name)': header entry needs dtype (string), shape (array) and data_offsets ([begin, end])")
            }
            var shape: [Int] = []
            for v in shapeValues {
                guard case .integer(let n) = v, n >= 0 else { throw ModelError("tensor '\(name)': shape \(value) has a bad extent") }
                shape.append(Int(n))
            }
            guard case .integer(let b) = offsets[0], case .integer(let e) = offsets[1], 0 <= b, b <= e else {
                throw ModelError("tensor '\(name)': data_offsets \(JSONValue.array(offsets)) are not 0 ≤ begin ≤ end")
            }
            guard e <= dataBytes else {
                throw ModelError(
                    "tensor '\(name)': data ends at byte offset \(dataStart + Int(e)), past the end of the file "
                        + "(\(bytes.count) bytes; truncated file?)")
            }
            entries[name] = Entry(dtypeName: dtype, shape: shape, begin: Int(b), end: Int(e))
        }
        self.entries = entries
        self.metadata = metadata
        self.bytes = bytes
    }

    /// The named tensor as `Float`s, checked against `expectedShape` when given.
    /// Refuses a missing tensor, another dtype, a byte count that does not match the shape, and
    /// non-finite values (a diverged training run must not become a model that outputs NaN).
    func floats(_ name: String, shape expectedShape: [Int]? = nil, usedBy op: String) throws(ModelError) -> [Float] {
        guard let entry = entries[name] else {
            throw ModelError("\(op): tensor '\(name)' is missing from the file")
        }
        guard let dtype = DType(rawValue: entry.dtypeName) else {
            throw ModelError("\(op): tensor '\(name)' has dtype \(entry.dtypeName); supported: F32, F16, BF16")
        }
        if let expectedShape, expectedShape != entry.shape {
            throw ModelError("\(op): tensor '\(name)' has shape \(entry.shape), expected \(expectedShape)")
        }
        guard let count = checkedProduct(entry.shape), let byteCount = checkedProduct([count, dtype.size]) else {
            throw ModelError("tensor '\(name)': shape \(entry.shape) has more elements than any file can hold")
        }
        guard entry.end - entry.begin == byteCount else {
            throw ModelError(
                "tensor '\(name)': data_offsets span \(entry.end - entry.begin) bytes, but shape \(entry.shape) of "
                    + "\(dtype.rawValue) needs \(byteCount)")
        }
        let base = dataStart + entry.begin
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let p = base + i * dtype.size
            switch dtype {
            case .f32:
                values[i] = Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
            case .bf16:
                values[i] = Float(bitPattern: UInt32(bytes[p]) << 16 | UInt32(bytes[p + 1]) << 24)
            case .f16:
                values[i] = Float(Float16(bitPattern: UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8))
            }
            guard values[i].isFinite else {
                throw ModelError("tensor '\(name)': element \(i) (byte offset \(p)) is \(values[i]); weights must be finite")
            }
        }
        return values
    }
}
