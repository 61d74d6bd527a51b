/// The raw hologram around one cell and the reference hologram at the same pixels, as 8-bit
/// images: what a lab keeps to reconstruct a cell again with other software (dclab's `qpi_oah`
/// and `qpi_oah_bg`; qpretrieve's `OffAxisHologram(data).run_pipeline()` on each, then the
/// hologram's field over the reference's, gives the cell's phase).
///
/// The tile is `side × side` camera pixels, centred on the cell and shifted inwards where the
/// cell is near the frame's edge, so that it always holds hologram (zeros only where the frame
/// itself is smaller than the tile). 8 bits because dclab stores holograms as uint8: a uint8
/// camera's pixels are kept exactly; any other tile (uint16 or float32 frames) is mapped linearly
/// from its own minimum…maximum onto 0…255, which leaves the retrieved phase unchanged (a
/// positive scale only scales the field's amplitude, an offset only the spectrum's centre) at
/// the cost of 8-bit quantisation.
public struct HologramTile: Sendable, Equatable {
    /// Side, camera pixels, and the tile's top-left pixel in the frame (column, row).
    public let side: Int
    public let x0: Int
    public let y0: Int
    /// `side²` pixels, row-major.
    public let hologram: [UInt8]
    /// The reference hologram's `side²` pixels at the same place; empty without a reference.
    public let reference: [UInt8]

    /// The side for crops of `cropSize` pixels of `cropPixelUm` µm on holograms of
    /// `hologramPixelUm` µm: the smallest power of two (FFT-friendly) that holds the crop's field
    /// of view (64 × 0.3 µm on 0.107 µm pixels: 180 → 256 px, 27 µm).
    public static func side(cropSize: Int, cropPixelUm: Double, hologramPixelUm: Double) -> Int {
        let field = Int((Double(cropSize) * cropPixelUm / hologramPixelUm).rounded(.up))
        var side = 1
        while side < field { side *= 2 }
        return side
    }

    /// Cuts the tile of `image` (and of the reference hologram `background`, same shape) around the hologram pixel
    /// (`x`, `y`) = (column, row).
    public init(of image: HologramImage, reference background: HologramImage?, centredOn x: Double, _ y: Double, side: Int) {
        func origin(_ centre: Double, _ extent: Int) -> Int {
            max(0, min(Int(centre.rounded()) - side / 2, extent - side))
        }
        let left = origin(x, image.cols), top = origin(y, image.rows)
        self.side = side
        x0 = left
        y0 = top
        hologram = Self.bytes(of: image, x0: left, y0: top, side: side)
        reference = background.map { Self.bytes(of: $0, x0: left, y0: top, side: side) } ?? []
    }

    private static func bytes(of image: HologramImage, x0: Int, y0: Int, side: Int) -> [UInt8] {
        let rows = y0..<min(y0 + side, image.rows), columns = x0..<min(x0 + side, image.cols)
        var window = [Float](repeating: 0, count: rows.count * columns.count)
        window.withUnsafeMutableBufferPointer { image.convert(rows: rows, columns: columns, into: $0.baseAddress!) }
        let exact = window.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() }
        let low = window.min() ?? 0, span = (window.max() ?? 0) - low
        let scale: Float = exact ? 1 : (span > 0 ? 255 / span : 0)
        let offset: Float = exact ? 0 : low
        var tile = [UInt8](repeating: 0, count: side * side)
        for r in 0..<rows.count {
            for c in 0..<columns.count {
                let v = (window[r * columns.count + c] - offset) * scale
                tile[r * side + c] = UInt8(min(255, max(0, v.rounded())))
            }
        }
        return tile
    }
}
