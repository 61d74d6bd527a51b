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
    /// Frames whose median is a camera's reference (`reconstruction.reference_frames`).
    public var referenceFrames = 15
    /// Expected cell displacement per frame along x, hologram pixels (`tracking.velocity_px`):
    /// flow speed / frame rate / pixel size; the twin's 4000 µm/s / 200 fps / 0.107 µm ≈ 187.
    public var velocityPixels = 187.0
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
