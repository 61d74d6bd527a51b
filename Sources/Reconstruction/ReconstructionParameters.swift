import Protocol

/// Everything the off-axis pipeline and the segmentation need to know about the rig and the
/// sample. Defaults follow qpretrieve where it has one (disk filter, radius ⅓ of the sideband
/// distance); docs/reconstruction.md explains each one to a microscopist.
public struct ReconstructionParameters: Sendable, Equatable {
    /// Illumination wavelength, nm: OPD = φ·λ/2π.
    public var wavelengthNm: Double = DefaultOptics.wavelengthNm
    /// Hologram pixel pitch in the sample plane (camera pixel / magnification), µm.
    public var pixelUm: Double = DefaultOptics.pixelUm
    /// Shape of the sideband filter.
    public var filter: FourierFilter = .disk
    /// Filter radius as a fraction of the distance from the spectrum's centre to the sideband
    /// (qpretrieve's `filter_size` with `filter_size_interpretation="sideband distance"`).
    public var filterRadiusFraction: Double = 1.0 / 3.0
    /// The phase's sign: decided from the data (`auto`, cells are denser than their medium) or
    /// fixed (``PhaseSign``).
    public var phaseSign: PhaseSign = .auto

    /// Refocus every cell region (``CellRefocuser``): search its focus within ±`refocusRangeUm`
    /// by angular-spectrum propagation in a medium of index `mediumIndex`.
    public var refocus = true
    public var refocusRangeUm: Double = 15
    public var mediumIndex: Double = DefaultOptics.mediumIndex

    /// A pixel of the (wrapped) OPD map further than this from the background starts a cell
    /// candidate, nm.
    public var detectionThresholdNm: Double = 20
    /// After unwrapping, the cell is the connected region above this OPD, nm.
    public var maskThresholdNm: Double = 20
    /// Smaller objects are not objects at all but noise, µm² (a 2 µm speck): they are neither
    /// cells nor rejected objects.
    public var minObjectAreaUm2: Double = 3
    /// Accepted projected areas, µm²: smaller objects are debris, larger ones clumps.
    public var minAreaUm2: Double = 30
    public var maxAreaUm2: Double = 1500
    /// Largest accepted ratio of the long to the short axis of the cell's moment ellipse. On the
    /// twin, single cells stay below 1.5 (99.95 %) and doublets above it (100 %); raise it for
    /// elongated objects such as sperm (head + midpiece ≈ 3.5).
    public var maxAspectRatio: Double = 1.5
    /// Smallest accepted area / area of the moment ellipse (≈ 1 for a convex ellipse, 0.96 for a
    /// doublet's peanut; lower for irregular clumps).
    public var minEllipseFill: Double = 0.75
    /// Background kept around each cell for unwrapping and levelling, µm.
    public var roiMarginUm: Double = 2

    /// Specific refractive increment α, mL/g (= µm³/pg): dry mass m = (1/α)∫OPD dA
    /// (Barer 1952; Popescu et al. 2008). 0.18–0.20 for most cells.
    public var alphaMlPerGram: Double = DefaultOptics.alphaMlPerGram

    /// Crops for the classifier: `cropSize × cropSize` pixels of `cropPixelUm` µm, centred on
    /// the cell (the model's `input.size` and `input.pixel_um`).
    public var cropSize = 64
    public var cropPixelUm: Double = 0.3

    public init() {}

    /// Why these parameters cannot work; `nil` when they are fine.
    public func validationError() -> String? {
        if !(wavelengthNm > 100 && wavelengthNm < 2000) { return "wavelength \(wavelengthNm) nm is outside 100–2000 nm" }
        if !(pixelUm > 0.005 && pixelUm < 20) { return "pixel size \(pixelUm) µm is outside 0.005–20 µm" }
        if !(filterRadiusFraction > 0.05 && filterRadiusFraction <= 0.5) {
            return "filter radius fraction \(filterRadiusFraction) is outside 0.05–0.5 of the sideband distance"
        }
        if !(alphaMlPerGram > 0.05 && alphaMlPerGram < 1) { return "alpha \(alphaMlPerGram) mL/g is outside 0.05–1" }
        if !(minAreaUm2 >= 0 && maxAreaUm2 > minAreaUm2) { return "area range \(minAreaUm2)–\(maxAreaUm2) µm² is empty" }
        if !(minObjectAreaUm2 >= 0 && minObjectAreaUm2 <= minAreaUm2) {
            return "the smallest object area \(minObjectAreaUm2) µm² must be in 0–\(minAreaUm2) µm² (the smallest cell's)"
        }
        if !(cropSize >= 8 && cropSize <= 1024) { return "crop size \(cropSize) is outside 8–1024 pixels" }
        if !(cropPixelUm > 0) { return "crop pixel size must be positive" }
        if !(detectionThresholdNm > 0 && maskThresholdNm > 0) { return "thresholds must be positive" }
        if !(refocusRangeUm >= 1 && refocusRangeUm <= 200) {
            return "refocus range ±\(refocusRangeUm) µm is outside 1–200 µm"
        }
        if !(mediumIndex >= 1 && mediumIndex <= 2) { return "medium index \(mediumIndex) is outside 1–2" }
        return nil
    }
}
