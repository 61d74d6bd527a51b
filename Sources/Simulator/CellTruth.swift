/// Ground truth of one cell in one frame.
public struct CellTruth: Sendable, Codable, Equatable {
    /// Identity of the physical cell, the same in every frame that shows it.
    public var id: Int
    public var cellClass: CellClass
    /// Training label (0–2, or −1 for unlabelled objects).
    public var label: Int
    /// Centre of the phantom (where its body centre is), pixels: x = column, y = row.
    public var x: Double
    public var y: Double
    /// Radius of the circle that contains the whole object, pixels.
    public var extentPixels: Double
    /// True when that circle lies completely inside the frame.
    public var fullyInside: Bool
    /// True OPD summed over the object, nm · pixel (its phase volume in pixel units).
    public var opdSumNm: Double
    /// The propagation distance that brings the recorded field of this cell back into focus,
    /// µm (nrefocus's convention: refocused = propagate(recorded, focusUm), with the
    /// angular-spectrum kernel exp(i·2π·d·(√((n/λ)² − |f|²) − n/λ)) in the medium,
    /// FFTWSupport's `AngularSpectrum`); the twin records
    /// propagate(in-focus, −focusUm). 0 for a cell in the focal plane.
    public var focusUm: Double
    /// The cell's speed along the flow, µm/s.
    public var velocityUmPerSecond: Double
    /// The hidden parameters a labelled cell was drawn with (`nil` for sperm, debris and
    /// doublets): what `flowd extract --simulate` writes as `phantom_parameters`, the targets of
    /// a network that learns to measure a cell's physics (training/topgan/twinsupervised.py).
    /// Not written to truth.jsonl, whose layout stays as it is.
    public var phantom: PhantomParameters?

    public init(
        id: Int, cellClass: CellClass, label: Int, x: Double, y: Double, extentPixels: Double, fullyInside: Bool,
        opdSumNm: Double, focusUm: Double = 0, velocityUmPerSecond: Double = 0, phantom: PhantomParameters? = nil
    ) {
        self.id = id
        self.cellClass = cellClass
        self.label = label
        self.x = x
        self.y = y
        self.extentPixels = extentPixels
        self.fullyInside = fullyInside
        self.opdSumNm = opdSumNm
        self.focusUm = focusUm
        self.velocityUmPerSecond = velocityUmPerSecond
        self.phantom = phantom
    }

    enum CodingKeys: String, CodingKey {
        case id, cellClass = "class", label, x, y, extentPixels = "extent_px", fullyInside = "fully_inside"
        case opdSumNm = "opd_sum_nm_px", focusUm = "focus_um", velocityUmPerSecond = "velocity_um_s"
    }
}

/// Ground truth of one frame: every cell at least partly in view, and the true OPD map.
public struct FrameTruth: Sendable {
    public var index: Int
    public var cells: [CellTruth]
    /// True OPD, nm, row-major `height × width`, zero where there is no cell: every cell in
    /// focus (the truth a refocused OPD map is compared with).
    public var opdNm: [Float]
}
