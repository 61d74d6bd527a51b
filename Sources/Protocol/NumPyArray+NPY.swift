import Foundation

extension NumPyArray {
    /// The 6-byte magic that opens every `.npy` file.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a `.npy` file (format version 1, 2 or 3).
    public static func read(contentsOf url: URL) throws(NumPyFormatError) -> NumPyArray {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw NumPyFormatError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try NumPyArray(npy: [UInt8](bytes))
        } catch {
            throw NumPyFormatError("\(url.path): \(error.message)")
        }
    }

    /// Writes the array as a `.npy` file, atomically (a reader never sees half a file).
    public func write(to url: URL) throws(NumPyFormatError) {
        do {
            try Data(npyBytes()).write(to: url, options: .atomic)
        } catch {
            throw NumPyFormatError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// Parses the bytes of a `.npy` file.
    public init(npy bytes: [UInt8]) throws(NumPyFormatError) {
        guard bytes.count >= 10, Array(bytes[0..<6]) == Self.magic else {
            throw NumPyFormatError("not a .npy file: it does not start with the magic \\x93NUMPY")
        }
        let major = bytes[6]
        let minor = bytes[7]
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default:
            throw NumPyFormatError("unsupported .npy format version \(major).\(minor) (byte offset 6); supported: 1, 2, 3")
        }
        let headerStart = 8 + lengthBytes
        guard bytes.count >= headerStart else {
            throw NumPyFormatError("truncated .npy file: \(bytes.count) bytes, the header length field ends at byte \(headerStart)")
        }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart else {
            throw NumPyFormatError(
                "truncated .npy file: the header length field (byte offset 8) says \(headerLength) bytes, "
                    + "but only \(bytes.count - headerStart) follow")
        }
        let headerBytes = bytes[headerStart..<dataStart]
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .ascii) else {
            throw NumPyFormatError("the .npy header (byte offset \(headerStart)) is not \(major == 3 ? "UTF-8" : "ASCII") text")
        }
        var parser = NPYHeaderParser(header)
        let fields = try parser.parse()
        guard fields.fortranOrder == false else {
            throw NumPyFormatError("array is in Fortran order; save it in C order (np.ascontiguousarray)")
        }
        guard let dtype = DType(descr: fields.descr) else {
            throw NumPyFormatError(
                "unsupported dtype '\(fields.descr)'; supported: "
                    + DType.allCases.map(\.rawValue).joined(separator: ", ") + " (little-endian)")
        }
        let (count, overflow) = Self.product(fields.shape)
        let (needed, overflow2) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, !overflow2, bytes.count - dataStart == needed else {
            throw NumPyFormatError(
                "shape \(fields.shape) of \(dtype.rawValue) needs \(overflow || overflow2 ? "more than Int.max" : "\(needed)") "
                    + "data bytes from byte offset \(dataStart), but the file has \(bytes.count - dataStart)")
        }
        try self.init(dtype: dtype, shape: fields.shape, data: Array(bytes[dataStart...]))
    }

    /// The array as the bytes of a `.npy` file: version 1 when the header fits in 65535 bytes,
    /// else version 2; the data starts on a 64-byte boundary as NumPy ≥ 1.23 writes it.
    public func npyBytes() -> [UInt8] {
        let shapeText =
            shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        func build(lengthBytes: Int) -> [UInt8] {
            let unpadded = 8 + lengthBytes + dict.utf8.count + 1
            let padding = (64 - unpadded % 64) % 64
            return Array(dict.utf8) + [UInt8](repeating: 0x20, count: padding) + [0x0A]
        }
        var header = build(lengthBytes: 2)
        var version: UInt8 = 1
        if header.count > Int(UInt16.max) {
            header = build(lengthBytes: 4)
            version = 2
        }
        var out = Self.magic + [version, 0]
        let length = header.count
        for i in 0..<(version == 1 ? 2 : 4) { out.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
        out += header
        out += data
        return out
    }
}

/// The three fields of a `.npy` header.
struct NPYHeaderFields {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
}

/// A parser for the one Python literal a `.npy` header holds: a dict of `'descr'` (a string),
/// `'fortran_order'` (a bool) and `'shape'` (a tuple of non-negative ints).
struct NPYHeaderParser {
    private let text: [Character]
    private var i = 0

    init(_ header: String) { text = Array(header) }

    mutating func parse() throws(NumPyFormatError) -> NPYHeaderFields {
        var descr: String?
        var fortran: Bool?
        var shape: [Int]?
        try expect("{")
        while true {
            skipSpace()
            if peek() == "}" { i += 1; break }
            let key = try parseString()
            try expect(":")
            switch key {
            case "descr": descr = try parseString()
            case "fortran_order": fortran = try parseBool()
            case "shape": shape = try parseShape()
            default: throw error("unexpected key '\(key)'")
            }
            skipSpace()
            if peek() == "," { i += 1 } else { try expect("}"); break }
        }
        guard let descr else { throw error("missing key 'descr'") }
        guard let fortran else { throw error("missing key 'fortran_order'") }
        guard let shape else { throw error("missing key 'shape'") }
        return NPYHeaderFields(descr: descr, fortranOrder: fortran, shape: shape)
    }

    private func error(_ what: String) -> NumPyFormatError {
        NumPyFormatError("malformed .npy header at character \(i): \(what); header: \(String(text).trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    private func peek() -> Character? { i < text.count ? text[i] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c.isWhitespace { i += 1 }
    }

    private mutating func expect(_ c: Character) throws(NumPyFormatError) {
        skipSpace()
        guard peek() == c else { throw error("expected '\(c)'") }
        i += 1
    }

    private mutating func parseString() throws(NumPyFormatError) -> String {
        skipSpace()
        guard let quote = peek(), quote == "'" || quote == "\"" else { throw error("expected a quoted string") }
        i += 1
        var s = ""
        while let c = peek(), c != quote {
            s.append(c)
            i += 1
        }
        guard peek() == quote else { throw error("unterminated string") }
        i += 1
        return s
    }

    private mutating func parseBool() throws(NumPyFormatError) -> Bool {
        skipSpace()
        for (word, value) in [("True", true), ("False", false)] where text[i...].starts(with: word) {
            i += word.count
            return value
        }
        throw error("expected True or False")
    }

    private mutating func parseShape() throws(NumPyFormatError) -> [Int] {
        try expect("(")
        var shape: [Int] = []
        while true {
            skipSpace()
            if peek() == ")" { i += 1; return shape }
            var digits = ""
            while let c = peek(), c.isASCII, c.isNumber {
                digits.append(c)
                i += 1
            }
            guard let n = Int(digits) else { throw error("expected a non-negative integer in the shape") }
            shape.append(n)
            skipSpace()
            if peek() == "," { i += 1 } else { try expect(")"); return shape }
        }
    }
}
