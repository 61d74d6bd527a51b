import Foundation

/// An n-dimensional array in NumPy's `.npy` file format: how `flowd` exchanges arrays with the
/// Python side (OPD crops in, class probabilities out, holograms for the reconstruction).
///
/// The format (NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays"):
/// the magic `\x93NUMPY`, a major and a minor version byte, the header length (little-endian
/// `u16` in version 1, `u32` in versions 2 and 3), then an ASCII (version 3: UTF-8) Python dict
/// literal `{'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), }` padded with spaces
/// and a newline, then the raw array bytes.
///
/// Only what the contracts need is supported, and everything else is refused with a
/// ``NumPyFormatError`` that says what was found: little-endian `float32`, `uint16`, `uint8` and
/// `int64`, in C order. The elements are kept as raw little-endian bytes in ``data``; the typed
/// accessors convert them.
public struct NumPyArray: Sendable, Equatable {
    /// The element types `flowd` reads and writes, by their NumPy `descr` string.
    public enum DType: String, Sendable, CaseIterable {
        case float32 = "<f4"
        case uint16 = "<u2"
        case uint8 = "|u1"
        case int64 = "<i8"

        /// Bytes per element.
        public var itemSize: Int {
            switch self {
            case .float32: 4
            case .uint16: 2
            case .uint8: 1
            case .int64: 8
            }
        }

        /// Parses a `descr`; `<u1` and `u1` are NumPy's other spellings of `|u1`.
        init?(descr: String) {
            switch descr {
            case "<f4": self = .float32
            case "<u2": self = .uint16
            case "|u1", "<u1", "u1": self = .uint8
            case "<i8": self = .int64
            default: return nil
            }
        }
    }

    public let dtype: DType
    /// Extent of each axis, outermost first (C order). `[]` is a 0-d array of one element.
    public let shape: [Int]
    /// The elements as little-endian bytes in C order; exactly `count × dtype.itemSize` bytes.
    public let data: [UInt8]

    /// Number of elements: the product of ``shape``.
    public var count: Int { shape.reduce(1, *) }

    /// Wraps raw little-endian C-order bytes, checking that they fill the shape exactly.
    public init(dtype: DType, shape: [Int], data: [UInt8]) throws(NumPyFormatError) {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw NumPyFormatError("shape \(shape) has a negative extent")
        }
        let (count, overflow) = Self.product(shape)
        guard !overflow, count.multipliedReportingOverflow(by: dtype.itemSize).overflow == false,
            count * dtype.itemSize == data.count
        else {
            throw NumPyFormatError(
                "shape \(shape) of \(dtype.rawValue) needs \(overflow ? "more than Int.max" : "\(count * dtype.itemSize)") "
                    + "bytes, but \(data.count) were given")
        }
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// A `float32` array; `values.count` must equal the product of `shape`.
    public init(float32 values: [Float], shape: [Int]) throws(NumPyFormatError) {
        try self.init(dtype: .float32, shape: shape, data: Self.bytes(of: values.map(\.bitPattern.littleEndian)))
    }

    /// A `uint16` array; `values.count` must equal the product of `shape`.
    public init(uint16 values: [UInt16], shape: [Int]) throws(NumPyFormatError) {
        try self.init(dtype: .uint16, shape: shape, data: Self.bytes(of: values.map(\.littleEndian)))
    }

    /// A `uint8` array; `values.count` must equal the product of `shape`.
    public init(uint8 values: [UInt8], shape: [Int]) throws(NumPyFormatError) {
        try self.init(dtype: .uint8, shape: shape, data: values)
    }

    /// An `int64` array; `values.count` must equal the product of `shape`.
    public init(int64 values: [Int64], shape: [Int]) throws(NumPyFormatError) {
        try self.init(dtype: .int64, shape: shape, data: Self.bytes(of: values.map(\.littleEndian)))
    }

    /// The elements as `Float`; throws unless ``dtype`` is `float32`.
    public func float32Values() throws(NumPyFormatError) -> [Float] {
        try requireDType(.float32)
        return elements(UInt32.self).map { Float(bitPattern: UInt32(littleEndian: $0)) }
    }

    /// The elements as `UInt16`; throws unless ``dtype`` is `uint16`.
    public func uint16Values() throws(NumPyFormatError) -> [UInt16] {
        try requireDType(.uint16)
        return elements(UInt16.self).map { UInt16(littleEndian: $0) }
    }

    /// The elements as `UInt8`; throws unless ``dtype`` is `uint8`.
    public func uint8Values() throws(NumPyFormatError) -> [UInt8] {
        try requireDType(.uint8)
        return data
    }

    /// The elements as `Int64`; throws unless ``dtype`` is `int64`.
    public func int64Values() throws(NumPyFormatError) -> [Int64] {
        try requireDType(.int64)
        return elements(Int64.self).map { Int64(littleEndian: $0) }
    }

    private func requireDType(_ wanted: DType) throws(NumPyFormatError) {
        guard dtype == wanted else {
            throw NumPyFormatError("array is \(dtype.rawValue), expected \(wanted.rawValue)")
        }
    }

    private func elements<T: FixedWidthInteger>(_: T.Type) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            }
            initialized = count
        }
    }

    private static func bytes<T: FixedWidthInteger>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { [UInt8]($0) }
    }

    static func product(_ shape: [Int]) -> (Int, overflow: Bool) {
        var n = 1
        for extent in shape {
            let (next, overflow) = n.multipliedReportingOverflow(by: extent)
            if overflow { return (0, true) }
            n = next
        }
        return (n, false)
    }
}

/// Why bytes are not a `.npy` array that `flowd` can use; ``message`` names the byte offset,
/// header field or value at fault.
public struct NumPyFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
