/// One pass over a frame's pixels for what no header can reveal: float32 pixels that are not
/// numbers, and integer pixels clipped at full scale.
///
/// Both loops are written so that the compiler vectorises them (no early exit, integer
/// arithmetic only): a 1024² frame takes about a tenth of a millisecond, against the ~4 ms its
/// reconstruction costs (docs/reliability.md has the figures).
enum PixelScan {
    /// The index of the first NaN or ±Inf among little-endian float32 `pixels`, if any.
    static func firstNonFinite(float32 pixels: UnsafeRawBufferPointer) -> Int? {
        let count = pixels.count / 4
        // A float is NaN or infinite exactly when all its exponent bits are set.
        let exponent: UInt32 = 0x7F80_0000
        var highest: UInt32 = 0
        for i in 0..<count {
            highest = max(highest, UInt32(littleEndian: pixels.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & exponent)
        }
        guard highest == exponent else { return nil }
        return (0..<count).first {
            UInt32(littleEndian: pixels.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) & exponent == exponent
        }
    }

    /// How many of the `type` pixels are at the type's full scale (255 for uint8, 65535 for
    /// uint16); 0 for float32, which has no full scale.
    static func fullScaleCount(_ pixels: UnsafeRawBufferPointer, type: PixelType) -> Int {
        switch type {
        case .uint8:
            var count = 0
            for byte in pixels { count &+= byte == .max ? 1 : 0 }
            return count
        case .uint16:
            var count = 0
            for i in 0..<(pixels.count / 2) {
                count &+= pixels.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) == .max ? 1 : 0
            }
            return count
        case .float32:
            return 0
        }
    }
}
