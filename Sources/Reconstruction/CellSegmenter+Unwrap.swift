extension CellSegmenter {
    /// The frame's edge band, field pixels: 16 hologram pixels (docs/reconstruction.md, "Frame border").
    var edgeBandPixels: Int { Int((16 / min(decimation.x, decimation.y)).rounded(.up)) }

    /// Unwraps the region in place (nm → rad → unwrapped → nm) and levels it so that its border,
    /// which is background, has a median of zero. Returns the residue count.

    func unwrap(region r: Region, workspace w: ReconstructionWorkspace) -> Int {
        let radiansPerNm = Float(2 * Double.pi / parameters.wavelengthNm)
        let opd = w.opd.pointer
        if w.roi.count < r.width * r.height { w.roi = [Float](repeating: 0, count: r.width * r.height) }
        return w.roi.withUnsafeMutableBufferPointer { buffer -> Int in
            let p = buffer.baseAddress!
            for y in 0..<r.height {
                for x in 0..<r.width { p[y * r.width + x] = opd[(r.y0 + y) * fieldCols + r.x0 + x] * radiansPerNm }
            }
            let residues = w.unwrapScratch.unwrap(p, width: r.width, height: r.height)
            // Level: the border's median is the background, to the whole turn. Its fraction of a
            // turn too, when enough of the border lies away from the frame's edge band (where the
            // periodic FFT distorts the map): what a plane fitted to the whole field leaves
            // around a cell (a drifted reference's curvature, a parasitic fringe) would otherwise
            // bias its dry mass.
            w.border.removeAll(keepingCapacity: true)
            for x in 0..<r.width { w.border.append(p[x]); w.border.append(p[(r.height - 1) * r.width + x]) }
            for y in 0..<r.height { w.border.append(p[y * r.width]); w.border.append(p[y * r.width + r.width - 1]) }
            w.border.sort()
            let median = w.border[w.border.count / 2]
            w.border.removeAll(keepingCapacity: true)
            let band = edgeBandPixels
            if r.y0 >= band { for x in 0..<r.width { w.border.append(p[x]) } }
            if r.y1 <= fieldRows - band { for x in 0..<r.width { w.border.append(p[(r.height - 1) * r.width + x]) } }
            if r.x0 >= band { for y in 0..<r.height { w.border.append(p[y * r.width]) } }
            if r.x1 <= fieldCols - band { for y in 0..<r.height { w.border.append(p[y * r.width + r.width - 1]) } }
            let offset: Float
            if w.border.count >= 16 {
                w.border.sort()
                offset = w.border[w.border.count / 2]
            } else {
                offset = (median / (2 * Float.pi)).rounded() * 2 * Float.pi
            }
            w.regionOffsets.append((r, offset / radiansPerNm))
            for y in 0..<r.height {
                for x in 0..<r.width { opd[(r.y0 + y) * fieldCols + r.x0 + x] = (p[y * r.width + x] - offset) / radiansPerNm }
            }
            return residues
        }
    }
}
