import CFFTW
import FFTWSupport
import SystemSupport

/// One worker's preallocated buffers: nothing is allocated per frame in the hot path.
/// Not thread-safe: each worker (thread) owns one.
public final class ReconstructionWorkspace {
    /// A block of `rowBlock` hologram rows as Float, the row FFTs' input.
    let input: AlignedBuffer<Float>
    let spectrum: AlignedBuffer<fftwf_complex>
    let field: AlignedBuffer<fftwf_complex>
    /// OPD on the field grid, nm: background levelled; inside cell regions unwrapped.
    public let opd: AlignedBuffer<Float>
    /// |E|/|E_ref| on the field grid (filled only when refocusing).
    let amplitude: AlignedBuffer<Float>
    /// Component labels on the field grid (0 = background).
    let labels: AlignedBuffer<Int32>
    /// Scratch for per-region unwrapping.
    var unwrapScratch = PhaseUnwrapper()
    /// Scratch for one region's phase and its border values.
    var roi: [Float] = []
    var border: [Float] = []
    /// Component labelling scratch (its union–find table keeps its capacity between frames).
    var labeller = ConnectedComponents()
    /// Refocusing's propagators and scratch, one per window size and grid (made on first use).
    private var refocusWindows: [Int: RefocusWindow] = [:]
    /// The regions of the last frame that were refocused, with their focus distances (µm), for
    /// the full-resolution map.
    var refocused: [(region: CellSegmenter.Region, distanceUm: Double)] = []
    /// The background level each region of the last frame was unwrapped to zero from, nm (the
    /// full-resolution map is levelled alike).
    var regionOffsets: [(region: CellSegmenter.Region, offsetNm: Float)] = []
    /// The phase sign the last frame was reconstructed with (`.asIs` or `.inverted`).
    public internal(set) var phaseSign: PhaseSign = .asIs
    /// Background plane removed from the last frame (rad, field-grid pixels).
    public internal(set) var plane = BackgroundPlane()
    /// Optional per-stage timing (for `flowd bench reconstruct`).
    public var timings: StageTimings?

    public let fieldRows: Int
    public let fieldCols: Int

    /// Buffers for the holograms and the field grid of `filter`.
    init(filter: SidebandFilter) {
        let fieldRows = filter.fieldRows, fieldCols = filter.fieldCols
        input = AlignedBuffer(count: filter.rowBlock * filter.cols, initial: 0)
        spectrum = AlignedBuffer(count: filter.rows * (filter.cols / 2 + 1), initial: (0, 0))
        field = AlignedBuffer(count: fieldRows * fieldCols, initial: (0, 0))
        opd = AlignedBuffer(count: fieldRows * fieldCols, initial: 0)
        amplitude = AlignedBuffer(count: fieldRows * fieldCols, initial: 0)
        labels = AlignedBuffer(count: fieldRows * fieldCols, initial: 0)
        self.fieldRows = fieldRows
        self.fieldCols = fieldCols
    }

    /// The refocusing window of `size` (on the field grid, or `coarse`: on a grid of twice its
    /// pixel), made by `propagator` the first time.
    func refocusWindow(size: Int, coarse: Bool, propagator: () -> AngularSpectrum) -> RefocusWindow {
        let key = 2 * size + (coarse ? 1 : 0)
        if let window = refocusWindows[key] { return window }
        let window = RefocusWindow(propagator())
        refocusWindows[key] = window
        return window
    }

    /// The OPD map on the field grid, nm, row-major (a copy).
    public var opdMap: [Float] { Array(opd.buffer) }
}
