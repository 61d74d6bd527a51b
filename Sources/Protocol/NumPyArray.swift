import Foundation

/// A NumPy `.npy` array (format versions 1.0–3.0): shape, dtype and the raw little-endian,
/// C-order bytes. Minimal on purpose: what holograms, OPD maps and datasets need.
///
/// Format: magic `\x93NUMPY`, major, minor, header length (u16 for v1, u32 for v2/3), then a
/// Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }` padded
/// with spaces to a multiple of 64 bytes and ended by `\n`, then the data
/// (numpy/lib/format.py).
public struct NumPyArray: Sendable, Equatable {
    /// NumPy dtype descriptor, little-endian: `|u1`, `<u2`, `<f4`, `<i8`, `<f8`, `<U<n>`…
    public var dtype: String
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(dtype: String, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Bytes of one element, parsed from the descriptor (`<f4` → 4, `<U12` → 48).
    public var itemSize: Int {
        let digits = Int(dtype.drop { !$0.isNumber }) ?? 0
        return dtype.dropFirst().first == "U" ? 4 * digits : digits
    }

    /// Number of elements: the product of the shape (1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }
}

/// Why a `.npy` could not be read.
public struct NumPyArrayError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension NumPyArray {
    public init(contentsOf url: URL) throws {
        try self.init(npyBytes: [UInt8](Data(contentsOf: url)), name: url.path)
    }

    /// Parses the bytes of a `.npy` file; `name` is only used in error messages.
    public init(npyBytes data: [UInt8], name: String = ".npy") throws {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard data.count >= 10, Array(data[0..<6]) == magic else {
            throw NumPyArrayError("\(name) is not a NumPy .npy file (no \\x93NUMPY magic)")
        }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw NumPyArrayError("\(name): truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw NumPyArrayError("\(name): unsupported .npy format version \(major)")
        }
        guard data.count >= headerStart + headerLength,
            let header = String(bytes: data[headerStart..<headerStart + headerLength], encoding: .utf8)
        else { throw NumPyArrayError("\(name): truncated or non-UTF-8 header") }
        guard let descr = Self.value(of: "descr", in: header).map({ $0.trimmingCharacters(in: ["'", "\""]) }),
            let order = Self.value(of: "fortran_order", in: header),
            let shapeText = Self.value(of: "shape", in: header)
        else { throw NumPyArrayError("\(name): header lacks descr, fortran_order or shape: \(header)") }
        guard order == "False" else {
            throw NumPyArrayError("\(name): Fortran-order arrays are not supported; save with np.ascontiguousarray")
        }
        guard !descr.hasPrefix(">") else {
            throw NumPyArrayError("\(name): big-endian dtype \(descr) is not supported; use .astype('<…')")
        }
        let shape = try shapeText.trimmingCharacters(in: ["(", ")"]).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { part -> Int in
                guard let n = Int(part), n >= 0 else { throw NumPyArrayError("\(name): bad shape \(shapeText)") }
                return n
            }
        self.init(dtype: descr == "<u1" || descr == "u1" ? "|u1" : descr, shape: shape, bytes: [])
        let start = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow, data.count - start == needed else {
            throw NumPyArrayError(
                "\(name): data is \(data.count - start) bytes, but shape \(shape) of \(descr) needs \(needed)")
        }
        bytes = Array(data[start...])
    }

    /// The value text of `key` in the header's dict literal (up to the matching close).
    private static func value(of key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        var rest = header[keyRange.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    /// The complete `.npy` file (version 1.0, or 2.0 if the header needs more than 64 KiB).
    public func npyBytes() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype)', 'fortran_order': False, 'shape': \(shapeText), }"
        let v1 = header.utf8.count + 11 < 65536
        let prefix = v1 ? 10 : 12
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, v1 ? 1 : 2, 0]
        let length = header.utf8.count
        out += v1 ? [UInt8(length & 0xFF), UInt8(length >> 8)] : (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) }
        out += Array(header.utf8)
        out += bytes
        return out
    }

    public func write(to url: URL) throws {
        try Data(npyBytes()).write(to: url, options: .atomic)
    }
}

extension NumPyArray {
    /// A float32 array from values (C order).
    public init(float32 values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *))
        self.init(dtype: "<f4", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// An int64 array from values (C order).
    public init(int64 values: [Int64], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *))
        self.init(dtype: "<i8", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// A NumPy unicode string array (`<U<n>`, UTF-32LE, padded with zeros): what
    /// `np.array(["healthy", …])` gives, loadable without `allow_pickle`.
    public init(strings: [String]) {
        let width = max(1, strings.map { $0.unicodeScalars.count }.max() ?? 1)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(strings.count * width * 4)
        for s in strings {
            let scalars = Array(s.unicodeScalars)
            for i in 0..<width {
                let v = i < scalars.count ? scalars[i].value : 0
                bytes += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            }
        }
        self.init(dtype: "<U\(width)", shape: [strings.count], bytes: bytes)
    }

    /// The elements as Float, converting from uint8, uint16, float32 or float64.
    public func floatValues() throws -> [Float] {
        switch dtype {
        case "|u1": return bytes.map(Float.init)
        case "<u2":
            return bytes.withUnsafeBytes { raw in (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) } }
        case "<f4":
            return bytes.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        case "<f8":
            return bytes.withUnsafeBytes { raw in (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) } }
        default:
            throw NumPyArrayError("dtype \(dtype) is not a supported image type (uint8, uint16, float32, float64)")
        }
    }
}
