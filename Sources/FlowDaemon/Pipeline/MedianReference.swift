import Reconstruction

/// The cell-free reference hologram of a camera, made from its first frames.
///
/// Cells flow through the field of view, so at each pixel most of the first frames show the
/// empty channel: the per-pixel median keeps that and removes the cells, as long as no pixel is
/// covered by a cell in half of the frames (at the twin's 4 mm/s, 200 fps and 0.107 µm pixels a
/// cell moves ≈ 187 px per frame, so a pixel is covered in one frame or two).
enum MedianReference {
    /// The per-pixel median of `frames` (all of the same size; at least one). For an even
    /// number, the mean of the two middle values.
    static func median(of frames: [HologramImage]) throws -> HologramImage {
        let rows = frames[0].rows, cols = frames[0].cols, n = frames.count
        let pixels = rows * cols
        var stack = [Float](repeating: 0, count: n * pixels)
        stack.withUnsafeMutableBufferPointer { s in
            for (i, frame) in frames.enumerated() { frame.convert(into: s.baseAddress! + i * pixels) }
        }
        var values = [Float](repeating: 0, count: pixels)
        var column = [Float](repeating: 0, count: n)
        for p in 0..<pixels {
            for i in 0..<n { column[i] = stack[i * pixels + p] }
            column.sort()
            values[p] = n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
        }
        return try HologramImage(rows: rows, cols: cols, values: values)
    }
}
