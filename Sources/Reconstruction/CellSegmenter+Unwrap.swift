extension CellSegmenter {
    /// Unwraps the region in place (nm → rad → unwrapped → nm) and levels it so that its border,
    /// which is background, sits at zero. Returns the residue count.
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
            // Level: the border's median, rounded to whole turns, is the background.
            w.border.removeAll(keepingCapacity: true)
            for x in 0..<r.width { w.border.append(p[x]); w.border.append(p[(r.height - 1) * r.width + x]) }
            for y in 0..<r.height { w.border.append(p[y * r.width]); w.border.append(p[y * r.width + r.width - 1]) }
            w.border.sort()
            let turns = (w.border[w.border.count / 2] / (2 * Float.pi)).rounded()
            let offset = turns * 2 * Float.pi
            for y in 0..<r.height {
                for x in 0..<r.width { opd[(r.y0 + y) * fieldCols + r.x0 + x] = (p[y * r.width + x] - offset) / radiansPerNm }
            }
            return residues
        }
    }
}
