import Foundation

/// A single-channel, uncompressed baseline TIFF (TIFF 6.0, little-endian): what microscope
/// cameras save and ImageJ/Fiji, tifffile and MATLAB read. 8- and 16-bit unsigned and 32-bit
/// float samples; one image (the first IFD).
struct TIFFImage {
    var width: Int
    var height: Int
    /// 8, 16 or 32 (float).
    var bitsPerSample: Int
    /// Samples as Float, row-major.
    var values: [Float]

    /// Encodes 16-bit unsigned samples (values are rounded and clamped to 0…65535).
    static func encode16(width: Int, height: Int, values: [Float]) -> [UInt8] {
        precondition(values.count == width * height)
        let entries: [(tag: UInt16, type: UInt16, value: UInt32)] = [
            (256, 4, UInt32(width)), (257, 4, UInt32(height)), (258, 3, 16), (259, 3, 1), (262, 3, 1),
            (273, 4, 0), (277, 3, 1), (278, 4, UInt32(height)), (279, 4, UInt32(width * height * 2)), (339, 3, 1),
        ]
        let ifdSize = 2 + entries.count * 12 + 4
        let dataOffset = UInt32(8 + ifdSize)
        var out: [UInt8] = [0x49, 0x49, 42, 0]
        func u16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { out += (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
        u32(8)
        u16(UInt16(entries.count))
        for e in entries {
            u16(e.tag)
            u16(e.type)
            u32(1)
            // SHORT values sit left-justified in the 4-byte value field.
            if e.type == 3 { u16(UInt16(e.value)); u16(0) } else { u32(e.tag == 273 ? dataOffset : e.value) }
        }
        u32(0)
        out.reserveCapacity(out.count + 2 * values.count)
        for v in values { u16(UInt16(min(max(v.rounded(), 0), 65535))) }
        return out
    }

    /// Decodes the first image of a little- or big-endian baseline TIFF.
    init(bytes: [UInt8], name: String) throws {
        func fail(_ why: String) -> HologramFileError { HologramFileError("\(name): \(why)") }
        guard bytes.count >= 8 else { throw fail("too short for a TIFF") }
        let little: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: throw fail("not a TIFF (no II/MM byte-order mark)")
        }
        func u16(_ at: Int) throws -> Int {
            guard at + 2 <= bytes.count else { throw fail("truncated at byte \(at)") }
            return little ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
        }
        func u32(_ at: Int) throws -> Int {
            guard at + 4 <= bytes.count else { throw fail("truncated at byte \(at)") }
            let b = (0..<4).map { Int(bytes[at + $0]) }
            return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
        }
        guard try u16(2) == 42 else { throw fail("not a classic TIFF (BigTIFF is not supported)") }
        let ifd = try u32(4)
        guard ifd + 2 <= bytes.count else {
            throw fail("its first image directory (IFD) is at byte \(ifd), past the end of the \(bytes.count)-byte file")
        }
        let count = try u16(ifd)
        var tags: [Int: [Int]] = [:]
        for k in 0..<count {
            let e = ifd + 2 + 12 * k
            let tag = try u16(e), type = try u16(e + 2), n = try u32(e + 4)
            let size = type == 3 ? 2 : 4
            guard type == 3 || type == 4 else { continue }
            let base = n * size <= 4 ? e + 8 : try u32(e + 8)
            tags[tag] = try (0..<n).map { type == 3 ? try u16(base + 2 * $0) : try u32(base + 4 * $0) }
        }
        guard let w = tags[256]?.first, let h = tags[257]?.first, w > 0, h > 0 else { throw fail("no image width/length") }
        let bits = tags[258]?.first ?? 1
        let format = tags[339]?.first ?? 1
        guard (tags[259]?.first ?? 1) == 1 else { throw fail("compressed TIFFs are not supported; save uncompressed") }
        guard (tags[277]?.first ?? 1) == 1 else { throw fail("only single-channel (grayscale) TIFFs are supported") }
        guard (bits == 8 || bits == 16) && format == 1 || bits == 32 && format == 3 else {
            throw fail("\(bits)-bit samples of format \(format) are not supported (8/16-bit unsigned, 32-bit float)")
        }
        guard let offsets = tags[273], let counts = tags[279], offsets.count == counts.count else {
            throw fail("missing strip offsets/byte counts")
        }
        var raw: [UInt8] = []
        for (o, c) in zip(offsets, counts) {
            guard o >= 0, c >= 0, o + c <= bytes.count else { throw fail("strip at \(o)+\(c) runs past the file end") }
            raw += bytes[o..<(o + c)]
        }
        let bytesPerSample = bits / 8
        guard raw.count >= w * h * bytesPerSample else { throw fail("image data is \(raw.count) bytes, needs \(w * h * bytesPerSample)") }
        var values = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let a = i * bytesPerSample
            switch bits {
            case 8: values[i] = Float(raw[a])
            case 16: values[i] = Float(little ? Int(raw[a]) | Int(raw[a + 1]) << 8 : Int(raw[a]) << 8 | Int(raw[a + 1]))
            default:
                let b = (0..<4).map { UInt32(raw[a + $0]) }
                let pattern = little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
                values[i] = Float(bitPattern: pattern)
            }
        }
        width = w
        height = h
        bitsPerSample = bits
        self.values = values
    }
}
