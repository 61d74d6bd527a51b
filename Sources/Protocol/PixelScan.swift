/// One pass over a frame's pixels for what no header can reveal: float32 pixels that are not
/// numbers, and integer pixels clipped at full scale.
///
/// Both loops run without early exit on integer arithmetic, so that the compiler vectorises
/// them: 0.15–0.3 ms for a 1024² frame on the receive thread, the same order as copying its
/// pixels (`scripts/bench-pixel-scan`; docs/reliability.md).
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
        case .uint8: maxedLanes(pixels, laneBits: 8)
        case .uint16: maxedLanes(pixels, laneBits: 16)
        case .float32: 0
        }
    }

    /// Counts the all-ones lanes (bytes or 16-bit words) of `pixels`, 64 bits at a time: in the
    /// complement they are the zero lanes, which the carry trick of Hacker's Delight §6-1 marks
    /// with their top bit, leaving a popcount.
    private static func maxedLanes(_ pixels: UnsafeRawBufferPointer, laneBits: Int) -> Int {
        var low: UInt64 = 0  // every lane's bits but its top one: 0x7F7F… or 0x7FFF…
        for lane in stride(from: 0, to: 64, by: laneBits) { low |= ((1 << (laneBits - 1)) - 1) << lane }
        var count = 0
        let words = pixels.count / 8
        for i in 0..<words {
            let x = ~pixels.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
            count &+= (~(((x & low) &+ low) | x | low)).nonzeroBitCount
        }
        let laneBytes = laneBits / 8
        for offset in stride(from: 8 * words, to: pixels.count - laneBytes + 1, by: laneBytes) {
            let allOnes = (offset..<(offset + laneBytes)).allSatisfy { pixels[$0] == 0xFF }
            count &+= allOnes ? 1 : 0
        }
        return count
    }
}
