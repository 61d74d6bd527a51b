import FlowDaemon
import Foundation
import Protocol

/// Writes a NumPy `.npz`: a ZIP archive of `.npy` members, stored uncompressed (what
/// `np.savez` writes; `np.load` reads it, without `allow_pickle`). ZIP format per PKWARE's
/// APPNOTE 6.3: local headers, then the central directory, then its end record; CRC-32 of each
/// member. Without ZIP64, so the archive must stay below 4 GiB.
struct NPZWriter {
    private var members: [(name: String, bytes: [UInt8])] = []

    /// Adds an array under `name` (`np.load(...)[name]`).
    mutating func add(_ name: String, _ array: NumPyArray) {
        members.append((name + ".npy", array.npyBytes()))
    }

    /// Adds a 1-D NumPy unicode string array (`<U<n>`, UTF-32LE).
    mutating func add(_ name: String, strings: [String]) {
        let width = max(1, strings.map { $0.unicodeScalars.count }.max() ?? 1)
        var data: [UInt8] = []
        data.reserveCapacity(strings.count * width * 4)
        for s in strings {
            let scalars = Array(s.unicodeScalars)
            for i in 0..<width {
                let v = i < scalars.count ? scalars[i].value : 0
                data += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            }
        }
        members.append((name + ".npy", Self.npy(descr: "<U\(width)", shape: [strings.count], data: data)))
    }

    /// A version 1.0 `.npy` file for any descriptor (NEP 1; the header padded to 64 bytes).
    static func npy(descr: String, shape: [Int], data: [UInt8]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = (10 + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - 10 - header.utf8.count - 1) + "\n"
        let length = header.utf8.count
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + data
    }

    func write(to url: URL) throws {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: Int, _ into: inout [UInt8]) { into += (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        for member in members {
            let offset = out.count
            let crc = Int(CRC32.checksum(member.bytes))
            let name = Array(member.name.utf8)
            guard offset + member.bytes.count < Int(UInt32.max) else {
                throw HologramFileError("\(url.path): dataset exceeds 4 GiB; write several files")
            }
            // Local file header: version 2.0, no flags, stored, no timestamp.
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0x21, &out)
            u32(crc, &out); u32(member.bytes.count, &out); u32(member.bytes.count, &out); u16(name.count, &out); u16(0, &out)
            out += name
            out += member.bytes
            // Central directory entry.
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0x21, &central); u32(crc, &central); u32(member.bytes.count, &central)
            u32(member.bytes.count, &central); u16(name.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central)
            central += name
        }
        let directoryOffset = out.count
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
        u32(central.count, &out); u32(directoryOffset, &out); u16(0, &out)
        try Data(out).write(to: url, options: .atomic)
    }
}
