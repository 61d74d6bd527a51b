import Foundation

/// The off-axis pipeline for one rig and one hologram size: hologram → wrapped phase on a
/// decimated grid → (per cell) unwrapped OPD, cells, features, crops.
///
/// Made once, from a cell-free reference hologram; immutable and shared by all workers, each of
/// which owns a `ReconstructionWorkspace`. The steps (design.md §4):
///
/// 1–3. the ``SidebandFilter`` (found once, from the reference) turns the hologram into the +1
///    order's complex field E on a decimated grid;
/// 4. multiplication by conj(E_ref)/|E_ref|: φ = arg(E·conj(E_ref)) cancels the rig's
///    aberrations, the illumination and the sub-pixel residual of the carrier, which is the same
///    in both fields (without a reference the residual carrier is removed explicitly);
/// 5. a plane fitted to the background removes residual tilt and offset; the phase gets its sign
///    (``PhaseSign``: decided from the data unless fixed);
/// 6. the ``CellSegmenter`` finds the cells, refocuses, unwraps, measures and crops them per region.
public final class OffAxisReconstructor: Sendable {
    public let parameters: ReconstructionParameters
    /// Steps 1–3.
    public let filter: SidebandFilter
    /// Step 6.
    public let segmenter: CellSegmenter
    /// conj(E_ref)/|E_ref| on the field grid (re, im interleaved).
    let referenceConjugate: [Float]
    /// 1/|E_ref| on the field grid (all 1 without a reference), for the amplitude refocusing uses.
    let referenceInverseAmplitude: [Float]
    /// The reference hologram (for the full-resolution output and the recorded hologram
    /// tiles); nil without one.
    public let reference: HologramImage?

    /// Prepares the pipeline from a reference hologram (cell-free; same rig and size as the
    /// holograms to come). Pass `reference: nil` to find the sideband in `sidebandSource`
    /// instead and skip the reference division (aberrations then stay in the phase, apart from
    /// the tilt that the background fit removes).
    public init(
        reference: HologramImage?, sidebandSource: HologramImage? = nil, parameters: ReconstructionParameters
    ) throws {
        if let problem = parameters.validationError() { throw ReconstructionError(problem) }
        guard let source = reference ?? sidebandSource else {
            throw ReconstructionError("a reference hologram (or a hologram to find the sideband in) is required")
        }
        let rows = source.rows, cols = source.cols
        guard rows >= 32, cols >= 32, rows % 2 == 0, cols % 2 == 0, rows <= 8192, cols <= 8192 else {
            throw ReconstructionError("hologram size \(rows)×\(cols) must be even and within 32–8192 pixels")
        }
        self.parameters = parameters
        let filter = try SidebandFilter(
            sideband: try Sideband.locate(in: source), rows: rows, cols: cols, shape: parameters.filter,
            radiusFraction: parameters.filterRadiusFraction)
        self.filter = filter
        let fieldRows = filter.fieldRows, fieldCols = filter.fieldCols
        segmenter = CellSegmenter(
            parameters: parameters, fieldRows: fieldRows, fieldCols: fieldCols, decimation: filter.decimation)

        // Reference field (or, without one, the explicit removal of the residual carrier).
        var conj = [Float](repeating: 0, count: 2 * fieldRows * fieldCols)
        var inverseAmplitude = [Float](repeating: 1, count: fieldRows * fieldCols)
        if let reference {
            let workspace = ReconstructionWorkspace(filter: filter)
            filter.field(of: reference, workspace: workspace)
            for i in 0..<(fieldRows * fieldCols) {
                let (re, im) = workspace.field[i]
                let m = (re * re + im * im).squareRoot()
                guard m > 0 else { throw ReconstructionError("the reference field vanishes at pixel \(i): is the reference a hologram?") }
                conj[2 * i] = re / m
                conj[2 * i + 1] = -im / m
                inverseAmplitude[i] = 1 / m
            }
        } else {
            for y in 0..<fieldRows {
                for x in 0..<fieldCols {
                    let (re, im) = filter.residualCarrierConjugate(x: x, y: y, gridRows: fieldRows, gridCols: fieldCols)
                    conj[2 * (y * fieldCols + x)] = re
                    conj[2 * (y * fieldCols + x) + 1] = im
                }
            }
        }
        self.reference = reference
        referenceConjugate = conj
        referenceInverseAmplitude = inverseAmplitude
    }

    /// Hologram size, pixels.
    public var rows: Int { filter.rows }
    public var cols: Int { filter.cols }
    /// Where the +1 order is, found from the reference.
    public var sideband: Sideband { filter.sideband }
    /// Filter radius, cycles per pixel.
    public var filterRadius: Double { filter.radius }
    /// Size of the complex field after the cropped inverse FFT.
    public var fieldRows: Int { filter.fieldRows }
    public var fieldCols: Int { filter.fieldCols }
    /// Decimation of the field grid relative to the hologram along x (cols) and y (rows).
    public var decimation: (x: Double, y: Double) { filter.decimation }
    /// Pixel size of the field grid, µm (x, y).
    public var fieldPixelUm: (x: Double, y: Double) { segmenter.fieldPixelUm }

    /// A fresh per-worker workspace sized for this pipeline.
    public func makeWorkspace() -> ReconstructionWorkspace {
        ReconstructionWorkspace(filter: filter)
    }

    /// Reconstructs one hologram and returns the cells in it (steps 1–6 of the type's doc).
    ///
    /// Afterwards `workspace.opd` holds the OPD map on the field grid (nm): levelled background
    /// everywhere, refocused and unwrapped inside every cell region. `phaseSign` is the camera's
    /// (kept across its frames); by default a fresh one of `parameters.phaseSign`, so that `auto`
    /// decides on this hologram alone. With `rejects`, the objects that are not cells are
    /// returned too (``DetectedCell/rejection`` set). `focusHints` (hologram pixels): where
    /// tracked cells are expected, with their earlier focus (``FocusHint``). Allocates nothing per frame except the
    /// returned cells (and their crops when `crops` is true) and, the first time, the
    /// refocusing windows.
    public func process(
        _ hologram: HologramImage, workspace w: ReconstructionWorkspace, crops: Bool = true,
        phaseSign: PhaseSignState? = nil, rejects: Bool = false, focusHints: [FocusHint] = []
    ) throws -> [DetectedCell] {
        guard hologram.rows == rows, hologram.cols == cols else {
            throw ReconstructionError(
                "hologram is \(hologram.rows)×\(hologram.cols), but the reference was \(rows)×\(cols)")
        }
        filter.field(of: hologram, workspace: w, timings: w.timings)
        w.refocused.removeAll(keepingCapacity: true)
        w.regionOffsets.removeAll(keepingCapacity: true)
        var clock = StageClock()

        // Step 4: φ = arg(E · conj(E_ref)/|E_ref|), and |E|/|E_ref| for refocusing.
        let n = fieldRows * fieldCols
        let field = UnsafeMutableRawPointer(w.field.pointer).assumingMemoryBound(to: Float.self)
        let opd = w.opd.pointer
        let phaseSign = phaseSign ?? PhaseSignState(parameters.phaseSign)
        let sign = phaseSign.factor
        referenceConjugate.withUnsafeBufferPointer { r in
            for i in 0..<n {
                let a = field[2 * i], b = field[2 * i + 1], c = r[2 * i], d = r[2 * i + 1]
                opd[i] = sign * FastMath.atan2(a * d + b * c, a * c - b * d)
            }
        }
        if parameters.refocus {
            let amplitude = w.amplitude.pointer
            referenceInverseAmplitude.withUnsafeBufferPointer { inverse in
                for i in 0..<n { amplitude[i] = (field[2 * i] * field[2 * i] + field[2 * i + 1] * field[2 * i + 1]).squareRoot() * inverse[i] }
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
        if phaseSign.decided == nil, let vote = segmenter.phaseSignVote(workspace: w), phaseSign.decide(vote), vote == .inverted {
            for i in 0..<n { opd[i] = -opd[i] }
            w.plane = BackgroundPlane(a: -plane.a, b: -plane.b, c: -plane.c, residualRms: plane.residualRms)
        }
        w.phaseSign = phaseSign.decided ?? .asIs
        w.timings?.add(.background, clock.lap())

        // Step 6.
        let (decX, decY) = decimation
        return segmenter.cells(
            in: w, crops: crops, rejects: rejects,
            focusHints: focusHints.map { FocusHint(x: $0.x / decX, y: $0.y / decY, focusUm: $0.focusUm) })
    }
}
