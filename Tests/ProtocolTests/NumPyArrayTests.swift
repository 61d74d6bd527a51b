import Foundation
import Testing

@testable import Protocol

/// Bytes written by NumPy 2.4 itself, so the reader is checked against the real format.
private enum NumPyWritten {
    /// `np.save(f, (np.arange(6, dtype='<f4') * 0.5).reshape(2, 3))`: format 1.0.
    static let float32v1 = hex(
        "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d"
            + String(repeating: "20", count: 58) + "0a" + "000000000000003f0000803f0000c03f0000004000002040")
    /// `np.lib.format.write_array(f, np.array([1, 2, 65535], '<u2'), version=(2, 0))`.
    static let uint16v2 = hex(
        "934e554d50590200740000007b276465736372273a20273c7532272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d"
            + String(repeating: "20", count: 58) + "0a" + "01000200ffff")
    /// `np.lib.format.write_array(f, np.array([[-1, 7]], '<i8'), version=(3, 0))`.
    static let int64v3 = hex(
        "934e554d50590300740000007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c2032292c207d"
            + String(repeating: "20", count: 56) + "0a" + "ffffffffffffffff0700000000000000")

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }
}

/// Builds a version-1 `.npy` file around a hand-written header dict.
private func npy(header: String, data: [UInt8] = []) -> [UInt8] {
    let text = Array(header.utf8) + [0x0A]
    return NumPyArray.magic + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text + data
}

@Suite("NumPy .npy arrays")
struct NumPyArrayTests {
    @Test("reads a float32 array that NumPy wrote (format 1.0)")
    func readsNumPyFloat32() throws {
        let array = try NumPyArray(npy: NumPyWritten.float32v1)
        #expect(array.dtype == .float32)
        #expect(array.shape == [2, 3])
        #expect(try array.float32Values() == [0, 0.5, 1, 1.5, 2, 2.5])
    }

    @Test("reads format 2.0 and 3.0 headers (32-bit header length)")
    func readsVersions2And3() throws {
        let u16 = try NumPyArray(npy: NumPyWritten.uint16v2)
        #expect(u16.shape == [3])
        #expect(try u16.uint16Values() == [1, 2, 65535])
        let i64 = try NumPyArray(npy: NumPyWritten.int64v3)
        #expect(i64.shape == [1, 2])
        #expect(try i64.int64Values() == [-1, 7])
    }

    @Test("writes exactly the bytes NumPy writes")
    func writesLikeNumPy() throws {
        let array = try NumPyArray(float32: [0, 0.5, 1, 1.5, 2, 2.5], shape: [2, 3])
        #expect(array.npyBytes() == NumPyWritten.float32v1)
    }

    @Test("round-trips every supported dtype through a file", arguments: NumPyArray.DType.allCases)
    func roundTripsThroughFile(dtype: NumPyArray.DType) throws {
        let array: NumPyArray =
            switch dtype {
            case .float32: try NumPyArray(float32: [-1.5, .infinity, 3e-7, 0], shape: [2, 1, 2])
            case .uint16: try NumPyArray(uint16: [0, 1, 4095, 65535], shape: [4])
            case .uint8: try NumPyArray(uint8: [0, 7, 255, 128], shape: [2, 2])
            case .int64: try NumPyArray(int64: [-1, 0, 1, .max], shape: [1, 4])
            }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try array.write(to: url)
        #expect(try NumPyArray.read(contentsOf: url) == array)
        #expect(array.npyBytes().count % 64 == array.data.count % 64, "data starts on a 64-byte boundary")
    }

    @Test("0-d and empty arrays keep their shape")
    func scalarAndEmpty() throws {
        let scalar = try NumPyArray(float32: [42], shape: [])
        #expect(try NumPyArray(npy: scalar.npyBytes()).shape == [])
        let empty = try NumPyArray(float32: [], shape: [0, 64, 64])
        #expect(try NumPyArray(npy: empty.npyBytes()).shape == [0, 64, 64])
    }

    @Test("values that do not fill the shape are refused")
    func valuesMustFillShape() {
        #expect(throws: NumPyFormatError.self) { try NumPyArray(float32: [1, 2, 3], shape: [2, 2]) }
    }

    @Test("a typed accessor of the wrong dtype says what the array is")
    func wrongAccessor() throws {
        let array = try NumPyArray(uint8: [1], shape: [1])
        let error = #expect(throws: NumPyFormatError.self) { try array.float32Values() }
        #expect(error?.message == "array is |u1, expected <f4")
    }

    @Test(
        "malformed files are refused with a message that names the fault",
        arguments: [
            ([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0, 0], "magic"),
            (NumPyArray.magic + [9, 0, 0, 0], "version 9.0"),
            (NumPyArray.magic + [1, 0, 0xFF, 0x00] + Array("{}".utf8), "header length field"),
            (npy(header: "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]), "'>f4'"),
            (npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8)), "'<f8'"),
            (npy(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 16)), "Fortran"),
            (npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data: [0, 0, 0, 0]), "needs 16 data bytes"),
            (npy(header: "{'descr': '<f4', 'shape': (1,), }", data: [0, 0, 0, 0]), "missing key 'fortran_order'"),
            (npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "non-negative integer"),
            (npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}"), "unexpected key 'extra'"),
            (npy(header: "['<f4']"), "expected '{'"),
        ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], fault: String) {
        let error = #expect(throws: NumPyFormatError.self) { try NumPyArray(npy: bytes) }
        #expect(error?.message.contains(fault) == true, "\(error?.message ?? "no error")")
    }

    @Test("a missing file is reported with its path")
    func missingFile() {
        let error = #expect(throws: NumPyFormatError.self) {
            try NumPyArray.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.npy"))
        }
        #expect(error?.message.contains("/nonexistent/x.npy") == true)
    }
}
