extension CellSegmenter {
    /// A `cropSize²` OPD crop of `cropPixelUm` pixels centred at field position (x, y), by
    /// bilinear interpolation of the field-grid map (zero outside the frame).
    func crop(atFieldX cx: Double, y cy: Double, workspace w: ReconstructionWorkspace) -> [Float] {
        let s = parameters.cropSize
        let stepX = parameters.cropPixelUm / fieldPixelUm.x, stepY = parameters.cropPixelUm / fieldPixelUm.y
        let opd = w.opd.pointer
        var out = [Float](repeating: 0, count: s * s)
        let half = Double(s - 1) / 2
        for v in 0..<s {
            let y = cy + (Double(v) - half) * stepY
            let y0 = Int(y.rounded(.down)), ty = Float(y - Double(y0))
            for u in 0..<s {
                let x = cx + (Double(u) - half) * stepX
                let x0 = Int(x.rounded(.down)), tx = Float(x - Double(x0))
                @inline(__always) func at(_ xx: Int, _ yy: Int) -> Float {
                    xx >= 0 && yy >= 0 && xx < fieldCols && yy < fieldRows ? opd[yy * fieldCols + xx] : 0
                }
                let top = at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx
                let bottom = at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx
                out[v * s + u] = top * (1 - ty) + bottom * ty
            }
        }
        return out
    }
}
