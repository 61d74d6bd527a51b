import Foundation

extension OffAxisReconstructor {
    /// The OPD map of the last `process`ed hologram on the hologram's own pixel grid, nm.
    ///
    /// The filtered window is inverse-transformed zero-padded to the full size (exact
    /// band-limited interpolation of the field), divided by the reference field made the same
    /// way, levelled with the frame's background plane, and unwrapped with the field-grid OPD as a
    /// guide: φ = φ_wrapped + 2π·round((φ_guide − φ_wrapped)/2π), exact wherever the bilinearly
    /// interpolated guide is within π of the truth. Costs two full-size inverse FFTs, so it is
    /// for `flowd reconstruct`, not for the live path.
    public func fullResolutionOPD(workspace w: ReconstructionWorkspace) -> [Float] {
        let n = rows * cols
        let object = filter.fullSizeField(ofWindow: filter.filteredWindow(workspace: w))
        let reference = referenceWindow.map(filter.fullSizeField(ofWindow:))
        let nmPerRadian = Float(parameters.wavelengthNm / (2 * Double.pi))
        let sign: Float = parameters.invertPhase ? -1 : 1
        let (decX, decY) = decimation
        var out = [Float](repeating: 0, count: n)
        let guide = w.opd.pointer
        for y in 0..<rows {
            let fy = Double(y) / decY
            let y0 = min(Int(fy), fieldRows - 1), y1 = min(y0 + 1, fieldRows - 1), ty = Float(fy - Double(y0))
            for x in 0..<cols {
                let i = y * cols + x
                let (a, b) = object[i]
                let (c, d): (Float, Float)
                if let reference {
                    (c, d) = (reference[i].0, -reference[i].1)
                } else {
                    (c, d) = filter.residualCarrierConjugate(x: x, y: y, gridRows: rows, gridCols: cols)
                }
                let fx = Double(x) / decX
                let x0 = min(Int(fx), fieldCols - 1), x1 = min(x0 + 1, fieldCols - 1), tx = Float(fx - Double(x0))
                let phase = sign * atan2f(a * d + b * c, a * c - b * d) - w.plane.value(x: Float(fx), y: Float(fy))
                let g = (guide[y0 * fieldCols + x0] * (1 - tx) + guide[y0 * fieldCols + x1] * tx) * (1 - ty)
                    + (guide[y1 * fieldCols + x0] * (1 - tx) + guide[y1 * fieldCols + x1] * tx) * ty
                let wrapped = FastMath.wrap(phase) * nmPerRadian
                let period = Float(parameters.wavelengthNm)
                out[i] = wrapped + period * ((g - wrapped) / period).rounded()
            }
        }
        return out
    }
}
