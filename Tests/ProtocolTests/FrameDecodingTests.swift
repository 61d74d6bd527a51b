import Foundation
import Testing

@testable import Protocol

/// Decodes `[header, payload]` as the ingest does.
private func decode(_ header: String, payload: [UInt8], limits: FrameLimits = FrameLimits()) throws(FrameDecodingError) -> Frame {
    let headerBytes = Array(header.utf8)
    return try decode(parts: [headerBytes, payload], limits: limits)
}

private func decode(parts: [[UInt8]], limits: FrameLimits = FrameLimits()) throws(FrameDecodingError) -> Frame {
    let buffers = parts.map { part in
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: part.count, alignment: 1)
        copy.copyBytes(from: part)
        return UnsafeRawBufferPointer(copy)
    }
    defer { buffers.forEach { $0.deallocate() } }
    return try Frame(parts: buffers, limits: limits)
}

private func reason(_ header: String, payload: [UInt8] = [0, 0, 0, 0], limits: FrameLimits = FrameLimits()) -> FrameDecodingError.Reason? {
    do {
        _ = try decode(header, payload: payload, limits: limits)
        return nil
    } catch {
        return error.reason
    }
}

@Suite("Frame message v1 accepts what Python cameras send")
struct ValidFrameTests {
    @Test("pyzmq's send_array recipe: dtype name and shape")
    func pyzmqRecipe() throws {
        let frame = try decode(#"{"dtype": "uint16", "shape": [2, 3]}"#, payload: Array(repeating: 0, count: 12))
        #expect(frame.header.dtype == .uint16)
        #expect(frame.header.rows == 2 && frame.header.cols == 3)
        #expect(frame.header.camera == nil)
    }

    @Test("imagezmq's send_array: msg names the camera, a trailing channel of 1 is allowed")
    func imagezmq() throws {
        let frame = try decode(#"{"msg": "rig-1", "dtype": "uint8", "shape": [2, 2, 1]}"#, payload: [1, 2, 3, 4])
        #expect(frame.header.camera == "rig-1")
        #expect(frame.header.rows == 2 && frame.header.cols == 2)
    }

    @Test("NumPy's byte-order dtype strings", arguments: [("|u1", PixelType.uint8), ("<u2", .uint16), ("<f4", .float32)])
    func numpyDtypeStrings(name: String, type: PixelType) throws {
        let frame = try decode(#"{"dtype": "\#(name)", "shape": [1, 1]}"#, payload: Array(repeating: 0, count: type.itemSize))
        #expect(frame.header.dtype == type)
    }

    @Test("optional keys are read; camera wins over msg; unknown keys are ignored")
    func optionalKeys() throws {
        let header = #"""
            {"dtype": "float32", "shape": [1, 1], "msg": "host", "camera": "cam-A", "seq": 18446744073709551615,
             "t_ns": 1700000000000000000, "wavelength_nm": 633, "pixel_um": 0.107, "exposure_us": 50}
            """#
        let frame = try decode(header, payload: [0, 0, 0, 0])
        #expect(frame.header.camera == "cam-A")
        #expect(frame.header.seq == .max)
        #expect(frame.header.timeNanoseconds == 1_700_000_000_000_000_000)
        #expect(frame.header.wavelengthNm == 633)
        #expect(frame.header.pixelUm == 0.107)
    }

    @Test("the pixels are copied unchanged")
    func pixelsCopied() throws {
        let frame = try decode(#"{"dtype": "uint8", "shape": [1, 4]}"#, payload: [9, 8, 7, 6])
        #expect(frame.pixels.withUnsafeBytes { Array($0) } == [9, 8, 7, 6])
    }

    @Test("a header written by FrameHeader decodes to the same header")
    func roundTrip() throws {
        let header = FrameHeader(
            dtype: .uint16, rows: 3, cols: 2, camera: "c", seq: 7, timeNanoseconds: -5, wavelengthNm: 532.5, pixelUm: 0.2)
        let decoded = try header.jsonBytes().withUnsafeBytes { bytes throws(FrameDecodingError) in
            try FrameHeader(json: bytes, limits: FrameLimits())
        }
        #expect(decoded == header)
    }
}

@Suite("Every malformed message is refused with its own reason")
struct MalformedFrameTests {
    @Test(
        "header problems",
        arguments: [
            (#"not json"#, FrameDecodingError.Reason.headerNotJSON),
            (#"{"dtype": "uint8", "shape": [1, 1]"#, .headerNotJSON),
            (#"[1, 2]"#, .headerNotObject),
            (#"42"#, .headerNotObject),
            (#"{"shape": [1, 1]}"#, .missingDtype),
            (#"{"dtype": "int8", "shape": [1, 1]}"#, .unsupportedDtype),
            (#"{"dtype": ">u2", "shape": [1, 1]}"#, .unsupportedDtype),
            (#"{"dtype": 8, "shape": [1, 1]}"#, .unsupportedDtype),
            (#"{"dtype": "uint8"}"#, .missingShape),
            (#"{"dtype": "uint8", "shape": [0, 4]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [-1, 4]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [1.5, 4]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [2, 2, 3]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [4]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": "2x2"}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [true, 4]}"#, .badShape),
            (#"{"dtype": "uint8", "shape": [5000, 1]}"#, .shapeTooLarge),
            (#"{"dtype": "uint8", "shape": [2, 2], "seq": -1}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "seq": "7"}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "t_ns": 1.5}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "wavelength_nm": 0}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "pixel_um": "small"}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "camera": ""}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "camera": "a\nb"}"#, .badField),
            (#"{"dtype": "uint8", "shape": [2, 2], "msg": 3}"#, .badField),
        ])
    func headerProblems(header: String, expected: FrameDecodingError.Reason) {
        #expect(reason(header) == expected)
    }

    @Test("a header that is not UTF-8, such as a pickled object, is refused before parsing")
    func notUTF8() {
        // pickle.dumps({"dtype": "uint8"}) starts with 0x80 0x04: never valid UTF-8.
        let pickled: [UInt8] = [0x80, 0x04, 0x95, 0x15, 0x00, 0x7D, 0x94]
        #expect(throws: FrameDecodingError(.headerNotUTF8, "header is not valid UTF-8 JSON")) {
            try decode(parts: [pickled, [0]])
        }
    }

    @Test("a header larger than the limit is refused without being parsed")
    func headerTooLarge() {
        let padding = String(repeating: " ", count: 5000)
        #expect(reason(#"{"dtype": "uint8", "shape": [2, 2]\#(padding)}"#) == .headerTooLarge)
    }

    @Test("the payload must have exactly rows × cols × itemsize bytes", arguments: [0, 7, 9, 4096])
    func payloadSize(bytes: Int) {
        #expect(reason(#"{"dtype": "uint16", "shape": [2, 2]}"#, payload: Array(repeating: 0, count: bytes)) == .payloadSizeMismatch)
    }

    @Test("a frame is exactly two parts", arguments: [1, 3])
    func partCount(parts: Int) {
        let message = Array(repeating: Array(#"{"dtype": "uint8", "shape": [1, 1]}"#.utf8), count: parts)
        #expect(throws: FrameDecodingError.self) { try decode(parts: message) }
    }

    @Test("a refused frame keeps the camera it named, so its counters take the blame")
    func cameraOfRefusedFrame() {
        do {
            _ = try decode(#"{"dtype": "uint8", "shape": [2, 2], "camera": "cam-7"}"#, payload: [1])
            Issue.record("a short payload must be refused")
        } catch {
            #expect(error.reason == .payloadSizeMismatch)
            #expect(error.camera == "cam-7")
        }
        do {
            _ = try decode(#"{"dtype": "int8", "shape": [2, 2], "msg": "host-3"}"#, payload: [1])
            Issue.record("int8 must be refused")
        } catch {
            #expect(error.camera == "host-3")
        }
    }

    @Test(
        "fuzzing: C1 controls (NEL, CSI) and bidi overrides in a rejected value are escaped in the message",
        arguments: ["\u{8A}1", "\u{9B}2J\u{9B}31m", "rig\u{85}<2>forged", "cam\u{202E}lanigiro", "\u{2028}x"])
    func unprintableCharactersEscaped(value: String) {
        // The first is the fuzzer's find: {"dtype": "\u{8A}1", …} passed through debugDescription raw.
        for header in [#"{"dtype": "\#(value)", "shape": [16, 16, 1], "camera": "ri@-0", "seq": 0}"#,
                       #"{"dtype": "uint8", "shape": [2, 2], "camera": "\#(value)"}"#] {
            do {
                _ = try decode(header, payload: [0, 0, 0, 0])
                Issue.record("\(header.debugDescription) must be refused")
            } catch {
                let raw = error.description.unicodeScalars.filter { JSONValue.unprintable.contains($0.properties.generalCategory) }
                #expect(raw.isEmpty, "unescaped \(raw.map { String($0.value, radix: 16) }) in \(error.description.debugDescription)")
            }
        }
    }

    @Test("every message says what was expected")
    func messagesAreActionable() {
        do {
            _ = try decode(#"{"dtype": "uint16", "shape": [2, 2]}"#, payload: [1, 2, 3])
        } catch {
            #expect(error.description.contains("needs 8 bytes"))
            #expect(error.description.hasPrefix("payload_size_mismatch"))
        }
    }
}

@Suite("Pixels that cannot be a hologram are refused with their own reason")
struct PixelContentTests {
    private static func float32(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    @Test("a NaN or infinite float32 pixel: non_finite_pixels, naming the first one",
          arguments: [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7FA0_0001)])
    func nonFinite(bad: Float) {
        var values = [Float](repeating: 0.5, count: 6)
        values[4] = bad
        do {
            _ = try decode(#"{"dtype": "float32", "shape": [2, 3], "camera": "f32"}"#, payload: Self.float32(values))
            Issue.record("\(bad) must be refused")
        } catch {
            #expect(error.reason == .nonFinitePixels)
            #expect(error.camera == "f32")
            #expect(error.message.contains("pixel (1, 1)"))
        }
    }

    @Test("finite float32 pixels of any size are accepted, the largest and the subnormal ones too")
    func finiteFloats() throws {
        let values: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 0, -0.0, 1]
        _ = try decode(#"{"dtype": "float32", "shape": [2, 3]}"#, payload: Self.float32(values))
    }

    @Test("a uint8 frame with more than 1 % of its pixels at 255 is saturated; 1 % exactly is not")
    func saturatedUInt8() throws {
        var pixels = [UInt8](repeating: 120, count: 100 * 100)
        for i in 0..<100 { pixels[i * 37] = 255 }
        _ = try decode(#"{"dtype": "uint8", "shape": [100, 100]}"#, payload: pixels)
        pixels[1] = 255
        #expect(reason(#"{"dtype": "uint8", "shape": [100, 100]}"#, payload: pixels) == .saturated)
    }

    @Test("a uint16 frame at 65535 is saturated; 4095 (a 12-bit camera's top) is not full scale")
    func saturatedUInt16() {
        let white = [UInt8](repeating: 0xFF, count: 2 * 16)
        #expect(reason(#"{"dtype": "uint16", "shape": [4, 4], "camera": "c"}"#, payload: white) == .saturated)
        let twelveBitTop = [UInt8]((0..<16).flatMap { _ in [UInt8(0xFF), UInt8(0x0F)] })
        #expect(reason(#"{"dtype": "uint16", "shape": [4, 4]}"#, payload: twelveBitTop) == nil)
    }

    @Test("the word-at-a-time full-scale count equals a pixel-by-pixel count, for any length and alignment")
    func fullScaleCountMatchesNaive() {
        var state: UInt64 = 3
        for length in 0..<80 {
            let bytes = (0..<length).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return state >> 61 == 0 ? UInt8(0xFE) : state >> 62 == 1 ? 0xFF : UInt8(truncatingIfNeeded: state >> 33)
            }
            let naive8 = bytes.filter { $0 == 0xFF }.count
            let naive16 = stride(from: 0, to: length - 1, by: 2).filter { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xFF }.count
            bytes.withUnsafeBytes { raw in
                #expect(PixelScan.fullScaleCount(raw, type: .uint8) == naive8)
                #expect(PixelScan.fullScaleCount(UnsafeRawBufferPointer(rebasing: raw[0..<(length & ~1)]), type: .uint16) == naive16)
                if length > 1 {  // unaligned start
                    let shifted = UnsafeRawBufferPointer(rebasing: raw[1...])
                    #expect(PixelScan.fullScaleCount(shifted, type: .uint8) == bytes.dropFirst().filter { $0 == 0xFF }.count)
                }
            }
        }
    }

    @Test("maxSaturatedFraction 1 accepts even a white frame")
    func saturationCheckOff() {
        let limits = FrameLimits(maxSaturatedFraction: 1)
        #expect(reason(#"{"dtype": "uint8", "shape": [2, 2]}"#, payload: [255, 255, 255, 255], limits: limits) == nil)
    }

    @Test("the saturation message says how many pixels, the limit and what to do")
    func saturationMessage() {
        do {
            _ = try decode(#"{"dtype": "uint8", "shape": [2, 2]}"#, payload: [255, 255, 255, 0])
        } catch {
            #expect(error.description.hasPrefix("saturated: 3 of 4 pixels are at full scale (255)"))
            #expect(error.description.contains("ingest.max_saturated_fraction"))
        }
    }
}

@Suite("The largest message part worth reading (ZMQ_MAXMSGSIZE)")
struct MessagePartLimitTests {
    @Test("covers the largest float32 buffer and the largest header, and never less than ZeroMQ's handshake needs")
    func maxMessagePart() {
        #expect(FrameLimits().maxMessagePartBytes == 4096 * 4096 * 4)
        #expect(FrameLimits(maxRows: 64, maxCols: 32).maxMessagePartBytes == 64 * 32 * 4)
        #expect(FrameLimits(maxRows: 1, maxCols: 1).maxMessagePartBytes == 4096)
        #expect(FrameLimits(maxRows: 8, maxCols: 8, maxHeaderBytes: 10_000).maxMessagePartBytes == 10_000)
    }
}
