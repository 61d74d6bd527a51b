import Protocol

/// What the cell pipeline is configured with (`model.*`, `reconstruction.*`, `tracking.*`,
/// `classify.*` in config/flowd.yaml).
public struct PipelineSettings: Sendable, Equatable {
    /// Classifier file (safetensors from `topgan export`) (`model.path`); empty: the installed
    /// default model (`DefaultModel`); `none`: no classifier, cells are tracked, counted and
    /// published with the label `unclassified`.
    public var modelPath = ""
    /// Illumination wavelength, nm (`reconstruction.wavelength_nm`). Config values, not the
    /// frame headers', so that every frame of a run is measured on the same scale.
    public var wavelengthNm = DefaultOptics.wavelengthNm
    /// Hologram pixel pitch in the sample plane, µm (`reconstruction.pixel_um`).
    public var pixelUm = DefaultOptics.pixelUm
    /// Specific refractive increment for dry mass, mL/g (`reconstruction.alpha_ml_per_g`).
    public var alphaMlPerGram = DefaultOptics.alphaMlPerGram
    /// A cell-free reference hologram (.npy or .tif) used for every camera; empty: each camera's
    /// reference is the per-pixel median of its first frames (`reconstruction.reference`).
    public var referencePath = ""
    /// The phase's sign: `auto` (decided per camera from its first frame with an object: cells
    /// are denser than their medium), `as-is` or `inverted` (`reconstruction.phase_sign`).
    public var phaseSign = "auto"
    /// `auto`: every cell is refocused (its focus searched within ±`refocusRangeUm`); `off`:
    /// cells are measured in the recorded plane (`reconstruction.refocus`).
    public var refocus = "auto"
    /// Half-width of the focus search, µm (`reconstruction.refocus_range_um`): half the channel
    /// depth covers every cell.
    public var refocusRangeUm = 15.0
    /// Refractive index of the medium the cells flow in, for the propagation
    /// (`reconstruction.medium_index`).
    public var mediumIndex = DefaultOptics.mediumIndex
    /// Seconds after which a camera's reference is remade from the median of its running frames
    /// (`reconstruction.reference_refresh_s`; 0: never): the rig drifts (tilt, focus,
    /// illumination) while a run goes on; `flowd_background_rms_nm` shows how much.
    public var referenceRefreshSeconds = 0.0
    /// Frames whose median is a camera's reference (`reconstruction.reference_frames`).
    public var referenceFrames = 15
    /// A guess of the cells' typical displacement per frame along x (the flow's direction),
    /// hologram pixels (`tracking.velocity_px`): flow speed / frame rate / pixel size; 0 (the
    /// default): none, the tracker learns it from the first cells. Each track follows its own
    /// velocity either way.
    public var velocityPixels = 0.0
    /// Largest distance between a track's predicted position and a detection it takes,
    /// hologram pixels (`tracking.gate_px`; 75 px = 8 µm at 0.107 µm).
    public var gatePixels = 75.0
    /// A cell whose largest fused probability is below this is labelled `unknown`
    /// (`classify.min_confidence`).
    public var minConfidence = 0.5
    /// Appearances of a cell classified and fused into its label, at most: its largest ones
    /// wholly in view (`classify.max_views`). Inference costs this many crops per cell.
    public var maxViews = 3

    public init() {}
}
