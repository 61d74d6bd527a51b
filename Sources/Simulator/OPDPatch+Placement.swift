extension OPDPatch {
    /// Adds this patch to a `width × height` OPD map with the cell's centre at pixel (x, y)
    /// (OPDs of overlapping objects add, as their path delays do). Returns false when no pixel of
    /// the object lands in the map.
    @discardableResult
    public func add(to opd: inout [Float], width: Int, height: Int, x: Int, y: Int) -> Bool {
        precondition(opd.count == width * height)
        let x0 = x - center, y0 = y - center
        let ax = max(0, x0), bx = min(width, x0 + size)
        let ay = max(0, y0), by = min(height, y0 + size)
        guard ax < bx, ay < by else { return false }
        var any = false
        for py in ay..<by {
            let src = (py - y0) * size - x0
            for px in ax..<bx {
                let v = opdNm[src + px]
                if v != 0 { opd[py * width + px] += v; any = true }
            }
        }
        return any
    }
}
