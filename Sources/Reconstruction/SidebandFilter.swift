import CFFTW
import FFTWSupport
import Foundation
import SystemSupport

/// Steps 1–3 of the off-axis pipeline (design.md §4): hologram → the +1 order's complex field on
/// a decimated grid, for one rig and one hologram size.
///
/// 1. real FFT of the hologram, pruned: rows r2c, then column FFTs only for the kx range of the
///    sideband window;
/// 2. the window around the sideband is multiplied by the filter and moved so that the integer
///    carrier lands on DC;
/// 3. inverse FFT of that small window only: a `fieldRows × fieldCols` complex field, decimated
///    by `hologram / window` relative to the hologram (the filter removes everything finer
///    anyway, so no information is lost: the samples are those of the band-limited field).
///
/// The sub-pixel rest of the carrier (`sideband` − the integer centre) stays in the field; the
/// reference division removes it, or ``residualCarrierConjugate(x:y:gridRows:gridCols:)``
/// without a reference. Immutable and shared by all workers; the buffers are the worker's
/// ``ReconstructionWorkspace``.
public final class SidebandFilter: Sendable {
    /// Hologram size, pixels.
    public let rows: Int
    public let cols: Int
    /// Where the +1 order is (frequency bins, sub-pixel).
    public let sideband: Sideband
    /// The filter's shape, and its radius in cycles per pixel.
    public let shape: FourierFilter
    public let radius: Double
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

    /// Rows per block of the row FFTs (see `rowBlock(rows:cols:)`).
    let rowBlock: Int
    let rowPlan: FFTWPlanner.Plan
    let columnPlan: FFTWPlanner.Plan
    let inversePlan: FFTWPlanner.Plan

    /// A `shape` filter of radius `radiusFraction` × the sideband's distance from the spectrum's
    /// centre, around `sideband`, for `rows × cols` holograms. Plans its FFTs (measured, so the
    /// first filter of a size takes a second or so).
    public init(sideband: Sideband, rows: Int, cols: Int, shape: FourierFilter, radiusFraction: Double) throws {
        self.rows = rows
        self.cols = cols
        self.sideband = sideband
        self.shape = shape
        let half = cols / 2 + 1

        // Window: the filter's support around the sideband, on FFT-friendly sizes.
        let radius = radiusFraction * sideband.distance(rows: rows, cols: cols)
        self.radius = radius
        let reach = radius * shape.support
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
                let w = shape.weight(distance: (fy * fy + fx * fx).squareRoot(), radius: radius)
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
    }

    /// Decimation of the field grid relative to the hologram along x (cols) and y (rows).
    public var decimation: (x: Double, y: Double) { (Double(cols) / Double(fieldCols), Double(rows) / Double(fieldRows)) }

    /// Steps 1–3: leaves the decimated complex field of `hologram` in `workspace.field`, and its
    /// half spectrum in `workspace.spectrum`.
    public func field(of hologram: HologramImage, workspace w: ReconstructionWorkspace, timings: StageTimings? = nil) {
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
        gatherWindow(of: w, into: UnsafeMutableRawPointer(w.field.pointer).assumingMemoryBound(to: Float.self))
        timings?.add(.filter, clock.lap())
        fftwf_execute_dft(inversePlan.raw, w.field.pointer, w.field.pointer)
        timings?.add(.inverseFFT, clock.lap())
    }

    /// Step 2: window element i = weight_i · spectrum[gather_i] (conjugated for mirrored bins),
    /// 0 where the weight is; `window` holds 2 · fieldRows · fieldCols floats.
    private func gatherWindow(of w: ReconstructionWorkspace, into window: UnsafeMutablePointer<Float>) {
        let spectrum = UnsafeMutableRawPointer(w.spectrum.pointer).assumingMemoryBound(to: Float.self)
        gather.withUnsafeBufferPointer { g in
            weights.withUnsafeBufferPointer { wt in
                conjugate.withUnsafeBufferPointer { cj in
                    for i in 0..<g.count {
                        let s = Int(g[i])
                        if s < 0 {
                            window[2 * i] = 0
                            window[2 * i + 1] = 0
                        } else {
                            window[2 * i] = spectrum[2 * s] * wt[i]
                            window[2 * i + 1] = (cj[i] ? -spectrum[2 * s + 1] : spectrum[2 * s + 1]) * wt[i]
                        }
                    }
                }
            }
        }
    }

    /// exp(−i·2π(δy·y/gridRows + δx·x/gridCols)) at pixel (x, y) of a `gridRows × gridCols` grid,
    /// δ = sideband − integer window centre (bins): multiplying the field by it removes the
    /// carrier's sub-pixel rest when there is no reference field to divide by.
    func residualCarrierConjugate(x: Int, y: Int, gridRows: Int, gridCols: Int) -> (re: Float, im: Float) {
        let dy = sideband.ky - Double(centerKy), dx = sideband.kx - Double(centerKx)
        let a = -2 * Double.pi * (dy * Double(y) / Double(gridRows) + dx * Double(x) / Double(gridCols))
        return (Float(cos(a)), Float(sin(a)))
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
}
