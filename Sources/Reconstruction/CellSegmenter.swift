/// Step 6 of the off-axis pipeline: the cells in a levelled OPD map on the field grid.
///
/// Candidate regions are found on the wrapped map (``candidateRegions(workspace:)``); each is
/// refocused (``CellRefocuser``, when on), unwrapped and levelled on its own (``unwrap(region:workspace:)``), which is cheaper and more
/// robust than unwrapping the whole field, and its cells are masked, filtered by area and shape,
/// measured and cropped (``measure(region:residues:focus:workspace:crops:rejects:into:)``). Immutable and
/// shared by all workers; the scratch is the worker's ``ReconstructionWorkspace``.
public struct CellSegmenter: Sendable {
    public let parameters: ReconstructionParameters
    /// Size of the field grid the OPD maps are on.
    public let fieldRows: Int
    public let fieldCols: Int
    /// Hologram pixels per field pixel along x (cols) and y (rows): positions and boxes are
    /// reported on the hologram grid.
    public let decimation: (x: Double, y: Double)
    /// Pixel size of the field grid in the sample plane, µm (x, y).
    public let fieldPixelUm: (x: Double, y: Double)
    /// Step 6a, when `parameters.refocus` is on.
    let refocuser: CellRefocuser?

    /// A segmenter for `fieldRows × fieldCols` OPD maps decimated by `decimation` from holograms
    /// of `parameters.pixelUm` pixels.
    public init(parameters: ReconstructionParameters, fieldRows: Int, fieldCols: Int, decimation: (x: Double, y: Double)) {
        self.parameters = parameters
        self.fieldRows = fieldRows
        self.fieldCols = fieldCols
        self.decimation = decimation
        let fieldPixelUm = (x: parameters.pixelUm * decimation.x, y: parameters.pixelUm * decimation.y)
        self.fieldPixelUm = fieldPixelUm
        refocuser = parameters.refocus
            ? CellRefocuser(
                rangeUm: parameters.refocusRangeUm, mediumIndex: parameters.mediumIndex,
                wavelengthNm: parameters.wavelengthNm, pixelUm: fieldPixelUm)
            : nil
    }

    /// The cells in `workspace.opd` (OPD on the field grid, nm, background levelled), which is
    /// left refocused (when refocusing is on) and unwrapped inside every cell region; crops only
    /// when `crops` is true; with `rejects`, also the objects that are not cells. A region that
    /// holds a `focusHints` point (field-grid pixels) is refocused around that hint's focus
    /// (the one nearest its centre).
    public func cells(
        in w: ReconstructionWorkspace, crops: Bool, rejects: Bool = false, focusHints: [FocusHint] = []
    ) -> [DetectedCell] {
        var clock = StageClock()
        let regions = candidateRegions(workspace: w)
        w.timings?.add(.detect, clock.lap())
        var cells: [DetectedCell] = []
        for region in regions {
            let focus = refocuser?.refocus(
                region, fieldRows: fieldRows, fieldCols: fieldCols, workspace: w, hint: Self.hint(for: region, in: focusHints))
            if case .refocused(let distance) = focus { w.refocused.append((region, distance)) }
            w.timings?.add(.refocus, clock.lap())
            let residues = unwrap(region: region, workspace: w)
            w.timings?.add(.unwrap, clock.lap())
            measure(region: region, residues: residues, focus: focus, workspace: w, crops: crops, rejects: rejects, into: &cells)
            w.timings?.add(.measure, clock.lap())
        }
        return cells
    }

    /// The focus of the hint inside `region` nearest its centre (`hints` in field-grid pixels).
    static func hint(for region: Region, in hints: [FocusHint]) -> Double? {
        let cx = Double(region.x0 + region.x1) / 2, cy = Double(region.y0 + region.y1) / 2
        return hints.filter {
            $0.x >= Double(region.x0) && $0.x < Double(region.x1) && $0.y >= Double(region.y0) && $0.y < Double(region.y1)
        }.min { ($0.x - cx) * ($0.x - cx) + ($0.y - cy) * ($0.y - cy) < ($1.x - cx) * ($1.x - cx) + ($1.y - cy) * ($1.y - cy) }?
            .focusUm
    }

    /// The phase sign the objects in `w.opd` (levelled, reconstructed as-is) ask for
    /// (``PhaseSignState/vote(signed:absolute:pixels:minimumPixels:)``): every candidate region
    /// is unwrapped first (in place; unwrapping it again later changes nothing), since a cell
    /// thicker than half a wavelength shows both signs while wrapped.
    func phaseSignVote(workspace w: ReconstructionWorkspace) -> PhaseSign? {
        let threshold = Float(parameters.detectionThresholdNm)
        let opd = w.opd.pointer
        var signed: Double = 0, absolute: Double = 0, pixels = 0
        for r in candidateRegions(workspace: w) {
            _ = unwrap(region: r, workspace: w)
            for y in r.y0..<r.y1 {
                for x in r.x0..<r.x1 where abs(opd[y * fieldCols + x]) > threshold {
                    signed += Double(opd[y * fieldCols + x])
                    absolute += Double(abs(opd[y * fieldCols + x]))
                    pixels += 1
                }
            }
        }
        let minimumPixels = max(4, Int(parameters.minAreaUm2 / (fieldPixelUm.x * fieldPixelUm.y)))
        return PhaseSignState.vote(signed: signed, absolute: absolute, pixels: pixels, minimumPixels: minimumPixels)
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
}
