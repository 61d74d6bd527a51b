import Foundation

extension OffAxisReconstructor {
    /// Reconstructs one hologram and returns the cells in it (steps 1–6 of the type's doc).
    ///
    /// Afterwards `workspace.opd` holds the OPD map on the field grid (nm): levelled background
    /// everywhere, unwrapped inside every cell region. Allocates nothing per frame except the
    /// returned cells (and their crops when `crops` is true).
    public func process(
        _ hologram: HologramImage, workspace w: ReconstructionWorkspace, crops: Bool = true
    ) throws -> [DetectedCell] {
        guard hologram.rows == rows, hologram.cols == cols else {
            throw ReconstructionError(
                "hologram is \(hologram.rows)×\(hologram.cols), but the reference was \(rows)×\(cols)")
        }
        var noWindow: [Float] = []
        Self.field(
            of: hologram, workspace: w, rowBlock: rowBlock, rowPlan: rowPlan, columnPlan: columnPlan,
            inversePlan: inversePlan, firstColumn: firstColumn, gather: gather, conjugate: conjugate, weights: weights,
            window: &noWindow, timings: w.timings)
        var clock = StageClock()

        // Step 4: φ = arg(E · conj(E_ref)/|E_ref|).
        let n = fieldRows * fieldCols
        let field = UnsafeMutableRawPointer(w.field.pointer).assumingMemoryBound(to: Float.self)
        let opd = w.opd.pointer
        let sign: Float = parameters.invertPhase ? -1 : 1
        referenceConjugate.withUnsafeBufferPointer { r in
            for i in 0..<n {
                let a = field[2 * i], b = field[2 * i + 1], c = r[2 * i], d = r[2 * i + 1]
                opd[i] = sign * FastMath.atan2(a * d + b * c, a * c - b * d)
            }
        }
        w.timings?.add(.phase, clock.lap())

        // Step 5: level the background; the map is OPD in nm from here on.
        let plane = BackgroundPlane.fit(phase: opd, rows: fieldRows, cols: fieldCols)
        w.plane = plane
        let nmPerRadian = Float(parameters.wavelengthNm / (2 * Double.pi))
        for y in 0..<fieldRows {
            let row = opd + y * fieldCols
            let base = plane.a + plane.c * Float(y)
            for x in 0..<fieldCols {
                row[x] = FastMath.wrap(row[x] - base - plane.b * Float(x)) * nmPerRadian
            }
        }
        w.timings?.add(.background, clock.lap())

        // Step 6: candidate regions, each unwrapped and measured.
        let regions = candidateRegions(workspace: w)
        w.timings?.add(.detect, clock.lap())
        var cells: [DetectedCell] = []
        for region in regions {
            let residues = unwrap(region: region, workspace: w)
            w.timings?.add(.unwrap, clock.lap())
            measure(region: region, residues: residues, workspace: w, crops: crops, into: &cells)
            w.timings?.add(.measure, clock.lap())
        }
        return cells
    }

    /// Region of the field grid, [x0, x1) × [y0, y1).
    struct Region {
        var x0: Int, y0: Int, x1: Int, y1: Int
        var width: Int { x1 - x0 }
        var height: Int { y1 - y0 }
    }

    /// Background margin around cells, field pixels.
    var marginPixels: Int { Int((parameters.roiMarginUm / min(fieldPixelUm.x, fieldPixelUm.y)).rounded(.up)) + 1 }

    /// Connected pixels further than the detection threshold from the background (on the
    /// wrapped map, so also where the phase wraps inside a cell), boxed, grown by the margin
    /// and merged until no two overlap.
    func candidateRegions(workspace w: ReconstructionWorkspace) -> [Region] {
        let threshold = Float(parameters.detectionThresholdNm)
        let opd = w.opd.pointer
        let cols = fieldCols
        let components = w.labeller.label(width: fieldCols, height: fieldRows, labels: w.labels.pointer, stride: fieldCols) {
            abs(opd[$1 * cols + $0]) > threshold
        }
        let m = marginPixels
        var regions = components.filter { $0.count >= 3 }.map {
            Region(
                x0: max(0, $0.x0 - m), y0: max(0, $0.y0 - m), x1: min(fieldCols, $0.x1 + 1 + m),
                y1: min(fieldRows, $0.y1 + 1 + m))
        }
        var merged = true
        while merged {
            merged = false
            outer: for i in regions.indices {
                for j in regions.indices where j > i {
                    let a = regions[i], b = regions[j]
                    if a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 {
                        regions[i] = Region(x0: min(a.x0, b.x0), y0: min(a.y0, b.y0), x1: max(a.x1, b.x1), y1: max(a.y1, b.y1))
                        regions.remove(at: j)
                        merged = true
                        break outer
                    }
                }
            }
        }
        return regions
    }

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

    /// Masks, filters and measures the cells of an unwrapped region.
    func measure(
        region r: Region, residues: Int, workspace w: ReconstructionWorkspace, crops: Bool, into cells: inout [DetectedCell]
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
            guard area >= parameters.minAreaUm2, area <= parameters.maxAreaUm2 else { continue }
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
            guard aspect <= parameters.maxAspectRatio, fill >= parameters.minEllipseFill else { continue }
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
                    crop: crops ? crop(atFieldX: fx, y: fy, workspace: w) : [], residues: residues))
        }
    }

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
