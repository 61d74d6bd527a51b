import CFFTW
import FFTWSupport
import Foundation
import Protocol
import SystemSupport

/// The off-axis pipeline for one rig and one hologram size: hologram → wrapped phase on a
/// decimated grid → (per cell) unwrapped OPD, cells, features, crops.
///
/// Made once, from a cell-free reference hologram; immutable and shared by all workers, each of
/// which owns a `ReconstructionWorkspace`. The steps (design.md §4):
///
/// 1. real FFT of the hologram, pruned: rows r2c, then column FFTs only for the kx range of the
///    sideband window;
/// 2. the window around the sideband (found once, from the reference) is multiplied by the
///    filter and moved so that the integer carrier lands on DC;
/// 3. inverse FFT of that small window only: a `fieldRows × fieldCols` complex field, decimated
///    by `hologram / window` relative to the hologram (the filter removes everything finer
///    anyway, so no information is lost: the samples are those of the band-limited field);
/// 4. multiplication by conj(E_ref)/|E_ref|: φ = arg(E·conj(E_ref)) cancels the rig's
///    aberrations, the illumination and the sub-pixel residual of the carrier, which is the same
///    in both fields (without a reference the residual carrier is removed explicitly);
/// 5. a plane fitted to the background removes residual tilt and offset;
/// 6. cells are found, unwrapped per region, measured and cropped (`process`).
public final class OffAxisReconstructor: Sendable {
    public let parameters: ReconstructionParameters
    /// Hologram size, pixels.
    public let rows: Int
    public let cols: Int
    /// Where the +1 order is, found from the reference.
    public let sideband: Sideband
    /// Filter radius, cycles per pixel.
    public let filterRadius: Double
    /// Size of the complex field after the cropped inverse FFT.
    public let fieldRows: Int
    public let fieldCols: Int
    /// Integer centre of the window (frequency bins).
    let centerKy: Int
    let centerKx: Int
    /// Columns of the half spectrum that the window needs: [firstColumn, firstColumn + columnCount).
    let firstColumn: Int
    let columnCount: Int
    /// Filter weights arranged like the inverse FFT's input (DC at 0), fieldRows × fieldCols.
    let weights: [Float]
    /// For each window element in inverse-FFT order: the half-spectrum index to read, or −1 for
    /// a zero weight; `conjugate` marks bins read from the mirrored (−ky, −kx) position.
    let gather: [Int32]
    let conjugate: [Bool]
    /// conj(E_ref)/|E_ref| on the field grid (re, im interleaved).
    let referenceConjugate: [Float]
    /// The reference's filtered window, for the full-resolution output.
    let referenceWindow: [Float]

    /// Rows per block of the row FFTs (see `rowBlock(rows:cols:)`).
    let rowBlock: Int
    let rowPlan: FFTWPlanner.Plan
    let columnPlan: FFTWPlanner.Plan
    let inversePlan: FFTWPlanner.Plan

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
        self.rows = rows
        self.cols = cols
        let half = cols / 2 + 1

        // Full half spectrum of the source, for the sideband search.
        let input = AlignedBuffer<Float>(count: rows * cols, initial: 0)
        source.convert(into: input.pointer)
        let spectrum = AlignedBuffer<fftwf_complex>(count: rows * half, initial: (0, 0))
        let full = FFTWPlanner.plan(kind: "r2c2d-estimate", dims: [rows, cols]) {
            let i = AlignedBuffer<Float>(count: rows * cols, initial: 0)
            let o = AlignedBuffer<fftwf_complex>(count: rows * half, initial: (0, 0))
            return fftwf_plan_dft_r2c_2d(Int32(rows), Int32(cols), i.pointer, o.pointer, UInt32(FFTW_ESTIMATE))
        }
        fftwf_execute_dft_r2c(full.raw, input.pointer, spectrum.pointer)
        let bins = (0..<(rows * half)).map { SIMD2(spectrum[$0].0, spectrum[$0].1) }
        let sideband = try Sideband.locate(spectrum: bins, rows: rows, cols: cols)
        self.sideband = sideband

        // Window: the filter's support around the sideband, on FFT-friendly sizes.
        let distance = sideband.distance(rows: rows, cols: cols)
        let radius = parameters.filterRadiusFraction * distance
        filterRadius = radius
        let reach = radius * parameters.filter.support
        fieldRows = min(rows, Self.fftFriendly(atLeast: Int((2 * reach * Double(rows)).rounded(.up)) + 2))
        fieldCols = min(cols, Self.fftFriendly(atLeast: Int((2 * reach * Double(cols)).rounded(.up)) + 2))
        centerKy = Int(sideband.ky.rounded())
        centerKx = Int(sideband.kx.rounded())

        // Gather table: window element (iy, ix) ↔ spectrum bin (ky, kx), written at the
        // inverse-FFT index of (ky − centerKy, kx − centerKx) so that the carrier lands on DC.
        var weights = [Float](repeating: 0, count: fieldRows * fieldCols)
        var gather = [Int32](repeating: -1, count: fieldRows * fieldCols)
        var conjugate = [Bool](repeating: false, count: fieldRows * fieldCols)
        var lowColumn = half, highColumn = -1
        for iy in 0..<fieldRows {
            let dyBins = iy - fieldRows / 2
            let ky = centerKy + dyBins
            for ix in 0..<fieldCols {
                let dxBins = ix - fieldCols / 2
                let kx = centerKx + dxBins
                let fy = (Double(ky) - sideband.ky) / Double(rows), fx = (Double(kx) - sideband.kx) / Double(cols)
                let w = parameters.filter.weight(distance: (fy * fy + fx * fx).squareRoot(), radius: radius)
                guard w > 1e-6 else { continue }
                // Frequencies alias into (−N/2, N/2]; negative kx come from the mirror bin.
                var wy = ((ky % rows) + rows) % rows, wx = ((kx % cols) + cols) % cols
                var mirrored = false
                if wx >= half {
                    wx = cols - wx
                    wy = (rows - wy) % rows
                    mirrored = true
                }
                let target = ((dyBins % fieldRows) + fieldRows) % fieldRows * fieldCols + ((dxBins % fieldCols) + fieldCols) % fieldCols
                weights[target] = w
                gather[target] = Int32(wy * half + wx)
                conjugate[target] = mirrored
                lowColumn = min(lowColumn, wx)
                highColumn = max(highColumn, wx)
            }
        }
        guard highColumn >= lowColumn else { throw ReconstructionError("the sideband filter is empty") }
        self.weights = weights
        self.gather = gather
        self.conjugate = conjugate
        firstColumn = lowColumn
        columnCount = highColumn - lowColumn + 1

        let rowBlock = Self.rowBlock(rows: rows, cols: cols)
        self.rowBlock = rowBlock
        (rowPlan, columnPlan, inversePlan) = Self.makePlans(
            rows: rows, cols: cols, rowBlock: rowBlock, firstColumn: lowColumn, columnCount: highColumn - lowColumn + 1,
            fieldRows: fieldRows, fieldCols: fieldCols)

        // Reference field (or, without one, the explicit removal of the residual carrier).
        var conj = [Float](repeating: 0, count: 2 * fieldRows * fieldCols)
        var window = [Float](repeating: 0, count: 2 * fieldRows * fieldCols)
        if let reference {
            let workspace = ReconstructionWorkspace(rows: rows, cols: cols, rowBlock: rowBlock, fieldRows: fieldRows, fieldCols: fieldCols)
            Self.field(
                of: reference, workspace: workspace, rowBlock: rowBlock, rowPlan: rowPlan, columnPlan: columnPlan,
                inversePlan: inversePlan, firstColumn: lowColumn, gather: gather, conjugate: conjugate, weights: weights,
                window: &window)
            for i in 0..<(fieldRows * fieldCols) {
                let (re, im) = workspace.field[i]
                let m = (re * re + im * im).squareRoot()
                guard m > 0 else { throw ReconstructionError("the reference field vanishes at pixel \(i): is the reference a hologram?") }
                conj[2 * i] = re / m
                conj[2 * i + 1] = -im / m
            }
        } else {
            let dy = sideband.ky - Double(centerKy), dx = sideband.kx - Double(centerKx)
            for y in 0..<fieldRows {
                for x in 0..<fieldCols {
                    let a = -2 * Double.pi * (dy * Double(y) / Double(fieldRows) + dx * Double(x) / Double(fieldCols))
                    conj[2 * (y * fieldCols + x)] = Float(cos(a))
                    conj[2 * (y * fieldCols + x) + 1] = Float(sin(a))
                }
            }
        }
        referenceConjugate = conj
        referenceWindow = window
    }

    /// Decimation of the field grid relative to the hologram along x (cols) and y (rows).
    public var decimation: (x: Double, y: Double) { (Double(cols) / Double(fieldCols), Double(rows) / Double(fieldRows)) }

    /// Pixel size of the field grid, µm (x, y).
    public var fieldPixelUm: (x: Double, y: Double) {
        (parameters.pixelUm * decimation.x, parameters.pixelUm * decimation.y)
    }

    /// A fresh per-worker workspace sized for this pipeline.
    public func makeWorkspace() -> ReconstructionWorkspace {
        ReconstructionWorkspace(rows: rows, cols: cols, rowBlock: rowBlock, fieldRows: fieldRows, fieldCols: fieldCols)
    }

    /// Rows per block of the row FFTs: the largest of 32, 16, … 2 that divides `rows` and keeps
    /// every block's output at the same 64-byte alignment (FFTW's new-array execute requires the
    /// alignment the plan was made with), else 1 with an unaligned plan. 32 rows of 1024 floats
    /// (128 KiB) stay in L2.
    static func rowBlock(rows: Int, cols: Int) -> Int {
        let half = cols / 2 + 1
        for block in [32, 16, 8, 4, 2] where rows % block == 0 && (block * half * 8) % 64 == 0 { return block }
        return 1
    }

    /// Smallest n ≥ `atLeast` of the form 2^a·3^b (a ≥ 3): FFTW's fastest sizes, and for
    /// power-of-two holograms usually an exact power-of-two decimation.
    static func fftFriendly(atLeast n: Int) -> Int {
        var m = max(8, n + (n & 1))
        while true {
            var r = m
            while r % 2 == 0 { r /= 2 }
            while r % 3 == 0 { r /= 3 }
            if r == 1 && m % 8 == 0 { return m }
            m += 2
        }
    }

    private static func makePlans(
        rows: Int, cols: Int, rowBlock: Int, firstColumn: Int, columnCount: Int, fieldRows: Int, fieldCols: Int
    ) -> (FFTWPlanner.Plan, FFTWPlanner.Plan, FFTWPlanner.Plan) {
        let half = cols / 2 + 1
        let flags = UInt32(FFTW_MEASURE)
        // Blocks that do not start at the plan's alignment need FFTW's unaligned codelets.
        let rowFlags = (rowBlock * half * 8) % 64 == 0 ? flags : flags | UInt32(FFTW_UNALIGNED)
        let rowPlan = FFTWPlanner.plan(kind: "rows-r2c", dims: [rowBlock, cols, Int(rowFlags)]) {
            let i = AlignedBuffer<Float>(count: rowBlock * cols, initial: 0)
            let o = AlignedBuffer<fftwf_complex>(count: rowBlock * half, initial: (0, 0))
            var n = Int32(cols)
            return fftwf_plan_many_dft_r2c(1, &n, Int32(rowBlock), i.pointer, nil, 1, Int32(cols), o.pointer, nil, 1, Int32(half), rowFlags)
        }
        // Columns in place, strided by the row length; the plan is made at the same offset from a
        // 64-byte aligned base as the workers' buffers, so FFTW's alignment assumptions hold.
        let columnPlan = FFTWPlanner.plan(kind: "columns-c2c", dims: [rows, cols, firstColumn, columnCount]) {
            let o = AlignedBuffer<fftwf_complex>(count: rows * half, initial: (0, 0))
            var n = Int32(rows)
            let p = o.pointer + firstColumn
            return fftwf_plan_many_dft(1, &n, Int32(columnCount), p, nil, Int32(half), 1, p, nil, Int32(half), 1, FFTW_FORWARD, flags)
        }
        let inversePlan = FFTWPlanner.plan(kind: "c2c-backward", dims: [fieldRows, fieldCols]) {
            let o = AlignedBuffer<fftwf_complex>(count: fieldRows * fieldCols, initial: (0, 0))
            return fftwf_plan_dft_2d(Int32(fieldRows), Int32(fieldCols), o.pointer, o.pointer, FFTW_BACKWARD, flags)
        }
        return (rowPlan, columnPlan, inversePlan)
    }

    /// Steps 1–3: leaves the decimated complex field of `hologram` in `workspace.field`.
    /// `window` receives the filtered window when it is not empty.
    static func field(
        of hologram: HologramImage, workspace w: ReconstructionWorkspace, rowBlock: Int, rowPlan: FFTWPlanner.Plan,
        columnPlan: FFTWPlanner.Plan, inversePlan: FFTWPlanner.Plan, firstColumn: Int, gather: [Int32],
        conjugate: [Bool], weights: [Float], window: inout [Float], timings: StageTimings? = nil
    ) {
        var clock = StageClock()
        let half = hologram.cols / 2 + 1
        var r = 0
        while r < hologram.rows {
            hologram.convert(rows: r..<(r + rowBlock), into: w.input.pointer)
            fftwf_execute_dft_r2c(rowPlan.raw, w.input.pointer, w.spectrum.pointer + r * half)
            r += rowBlock
        }
        timings?.add(.fftRows, clock.lap())
        fftwf_execute_dft(columnPlan.raw, w.spectrum.pointer + firstColumn, w.spectrum.pointer + firstColumn)
        timings?.add(.fftColumns, clock.lap())
        let spectrum = UnsafeMutableRawPointer(w.spectrum.pointer).assumingMemoryBound(to: Float.self)
        let field = UnsafeMutableRawPointer(w.field.pointer).assumingMemoryBound(to: Float.self)
        gather.withUnsafeBufferPointer { g in
            weights.withUnsafeBufferPointer { wt in
                conjugate.withUnsafeBufferPointer { cj in
                    for i in 0..<g.count {
                        let s = Int(g[i])
                        if s < 0 {
                            field[2 * i] = 0
                            field[2 * i + 1] = 0
                        } else {
                            field[2 * i] = spectrum[2 * s] * wt[i]
                            field[2 * i + 1] = (cj[i] ? -spectrum[2 * s + 1] : spectrum[2 * s + 1]) * wt[i]
                        }
                    }
                }
            }
        }
        if !window.isEmpty {
            for i in 0..<window.count { window[i] = field[i] }
        }
        timings?.add(.filter, clock.lap())
        fftwf_execute_dft(inversePlan.raw, w.field.pointer, w.field.pointer)
        timings?.add(.inverseFFT, clock.lap())
    }
}
