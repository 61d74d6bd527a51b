import Protocol
import Reconstruction
import Testing

/// The raw hologram kept around a recorded cell (dclab's `qpi_oah`): the right pixels, exactly
/// for an 8-bit camera, and a linear map for any other.
@Suite("Hologram tiles around cells")
struct HologramTileTests {
    /// A `rows × cols` frame of `dtype` whose pixel (r, c) is `value(r, c)`.
    static func frame<T: BitwiseCopyable>(_ dtype: PixelType, rows: Int, cols: Int, _ value: (Int, Int) -> T) -> HologramImage {
        let pixels = (0..<(rows * cols)).map { value($0 / cols, $0 % cols) }
        return pixels.withUnsafeBytes {
            HologramImage(frame: Frame(header: FrameHeader(dtype: dtype, rows: rows, cols: cols), pixels: PixelBuffer(copying: $0)))
        }
    }

    @Test("the side is the smallest power of two that holds the crop's field: 64 × 0.3 µm on 0.107 µm pixels → 256")
    func side() {
        #expect(HologramTile.side(cropSize: 64, cropPixelUm: 0.3, hologramPixelUm: 0.107) == 256)
        #expect(HologramTile.side(cropSize: 64, cropPixelUm: 0.3, hologramPixelUm: 0.25) == 128)
        #expect(HologramTile.side(cropSize: 64, cropPixelUm: 0.3, hologramPixelUm: 0.3) == 64)
    }

    @Test("an 8-bit frame's pixels are kept exactly, centred on the cell; the reference is cut at the same place")
    func exactUInt8() {
        let image = Self.frame(.uint8, rows: 40, cols: 50) { r, c in UInt8((r * 7 + c * 3) % 256) }
        let reference = Self.frame(.uint8, rows: 40, cols: 50) { r, c in UInt8((r + c) % 256) }
        let tile = HologramTile(of: image, reference: reference, centredOn: 20, 15, side: 8)
        #expect(tile.x0 == 16 && tile.y0 == 11)
        for r in 0..<8 {
            for c in 0..<8 {
                #expect(tile.hologram[r * 8 + c] == UInt8(((11 + r) * 7 + (16 + c) * 3) % 256))
                #expect(tile.reference[r * 8 + c] == UInt8((11 + r + 16 + c) % 256))
            }
        }
    }

    @Test("near the frame's edge the tile shifts inwards, so that it holds only hologram")
    func edge() {
        let image = Self.frame(.uint8, rows: 40, cols: 50) { _, _ in UInt8(9) }
        let corner = HologramTile(of: image, reference: nil, centredOn: 1, 38, side: 16)
        #expect(corner.x0 == 0 && corner.y0 == 24)
        #expect(corner.hologram.allSatisfy { $0 == 9 } && corner.reference.isEmpty)
        // A frame smaller than the tile: the frame at the tile's origin, zeros beyond it.
        let small = HologramTile(of: image, reference: nil, centredOn: 25, 20, side: 64)
        #expect(small.x0 == 0 && small.y0 == 0 && small.hologram.count == 64 * 64)
        #expect(small.hologram[39 * 64 + 49] == 9 && small.hologram[39 * 64 + 50] == 0 && small.hologram[40 * 64] == 0)
    }

    @Test("a 16-bit tile is mapped linearly from its minimum…maximum onto 0…255")
    func linearUInt16() {
        let image = Self.frame(.uint16, rows: 16, cols: 16) { _, c in UInt16(1000 + 100 * c) }
        let tile = HologramTile(of: image, reference: nil, centredOn: 8, 8, side: 16)
        // Columns 0…15 hold 1000…2500: 0, 17, 34, …, 255.
        #expect(Array(tile.hologram[0..<16]) == (0..<16).map { UInt8(17 * $0) })
    }
}
