extension CellSegmenter {
    /// Masks, filters and measures the cells of an unwrapped region (and, with `rejects`, the
    /// objects that are not cells, with their ``ObjectRejection``).
    ///
    /// An object is a connected region above `maskThresholdNm` of at least `minObjectAreaUm2`. A
    /// cell is an object whose area lies in the accepted range and whose moment ellipse (eigenvalues λ₁ ≥ λ₂ of the pixel coordinates' covariance) is
    /// round and full enough: aspect √(λ₁/λ₂) ≤ `maxAspectRatio`, fill = pixels / (4π√(λ₁λ₂))
    /// ≥ `minEllipseFill`. Phase volume V = Σ OPD · pixel area (nm · µm² · 10⁻³ = µm³), dry mass
    /// V / α (pg).
    func measure(
        region r: Region, residues: Int, focus: CellRefocuser.Outcome?, workspace w: ReconstructionWorkspace, crops: Bool,
        rejects: Bool, into cells: inout [DetectedCell]
    ) {
        let opd = w.opd.pointer
        let cols = fieldCols
        let threshold = Float(parameters.maskThresholdNm)
        let labels = w.labels.pointer + r.y0 * cols + r.x0
        let components = w.labeller.label(width: r.width, height: r.height, labels: labels, stride: cols) {
            opd[(r.y0 + $1) * cols + r.x0 + $0] > threshold
        }
        let (px, py) = fieldPixelUm
        let pixelArea = px * py
        let (decX, decY) = decimation
        for (index, c) in components.enumerated() {
            let area = Double(c.count) * pixelArea
            guard area >= parameters.minObjectAreaUm2 else { continue }
            var rejection: ObjectRejection? =
                area < parameters.minAreaUm2 ? .tooSmall : area > parameters.maxAreaUm2 ? .tooLarge : nil
            if rejection != nil && !rejects { continue }
            let id = Int32(index + 1)
            var sum = 0.0, maxValue: Float = -.infinity, sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
            for y in c.y0...c.y1 {
                for x in c.x0...c.x1 where labels[y * cols + x] == id {
                    let v = opd[(r.y0 + y) * cols + r.x0 + x]
                    sum += Double(v)
                    maxValue = max(maxValue, v)
                    let xd = Double(x), yd = Double(y)
                    sx += xd; sy += yd; sxx += xd * xd; syy += yd * yd; sxy += xd * yd
                }
            }
            let count = Double(c.count)
            let mx = sx / count, my = sy / count
            let vxx = sxx / count - mx * mx, vyy = syy / count - my * my, vxy = sxy / count - mx * my
            let tr = vxx + vyy, det = max(vxx * vyy - vxy * vxy, 1e-12)
            let disc = max(tr * tr / 4 - det, 0).squareRoot()
            let l1 = tr / 2 + disc, l2 = max(tr / 2 - disc, 1e-6)
            let aspect = (l1 / l2).squareRoot()
            let fill = count / (4 * Double.pi * (l1 * l2).squareRoot())
            if rejection == nil {
                rejection = aspect > parameters.maxAspectRatio ? .elongated : fill < parameters.minEllipseFill ? .irregular : nil
            }
            if rejection != nil && !rejects { continue }
            let volume = sum * 1e-3 * pixelArea
            let features = CellFeatures(
                areaUm2: area, meanOPDNm: sum / count, maxOPDNm: Double(maxValue), phaseVolumeUm3: volume,
                dryMassPg: volume / parameters.alphaMlPerGram, aspectRatio: aspect, ellipseFill: fill)
            let fx = Double(r.x0) + mx, fy = Double(r.y0) + my
            let touches = r.x0 + c.x0 == 0 || r.y0 + c.y0 == 0 || r.x0 + c.x1 == fieldCols - 1 || r.y0 + c.y1 == fieldRows - 1
            let box = PixelBox(
                x: Int((Double(r.x0 + c.x0) * decX).rounded(.down)), y: Int((Double(r.y0 + c.y0) * decY).rounded(.down)),
                width: Int((Double(c.x1 - c.x0 + 1) * decX).rounded(.up)), height: Int((Double(c.y1 - c.y0 + 1) * decY).rounded(.up)))
            cells.append(
                DetectedCell(
                    x: fx * decX, y: fy * decY, box: box, touchesEdge: touches, features: features,
                    crop: crops ? crop(atFieldX: fx, y: fy, workspace: w) : [], residues: residues,
                    focusUm: focus?.distanceUm, refocusFailed: focus.map { $0.distanceUm == nil } ?? false,
                    rejection: rejection))
        }
    }
}
