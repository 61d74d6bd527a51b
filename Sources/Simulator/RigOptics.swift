import Protocol

/// The interferometer and camera of the twin: what turns an OPD map into camera counts.
///
/// Defaults describe a low-coherence off-axis setup like the paper's (633 nm, ≈ 0.1 µm sample
/// pixels) with an 8-bit camera; docs/simulator.md lists them and the noise budget.
public struct RigOptics: Sendable {
    /// Illumination wavelength in vacuum, nm.
    public var wavelengthNm: Double = DefaultOptics.wavelengthNm
    /// Camera pixel pitch, µm.
    public var cameraPixelUm: Double = 3.45
    /// Lateral magnification from the sample to the camera.
    public var magnification: Double = 32.2
    /// Refractive index of the medium (only used by the defocus propagation).
    public var mediumIndex: Double = DefaultOptics.mediumIndex
    /// Carrier (reference tilt) in cycles per pixel along x (columns) and y (rows). The object
    /// term exp(iφ)·conj(R) then sits at −carrier in the spectrum. The default puts it at
    /// (+¼, −¼): fringes of period 2.8 px at 45°, the +1 order in the half plane that both flowd
    /// (kx > 0) and qpretrieve (ky < 0) search, so both read φ with the same sign.
    public var carrier: SIMD2<Double> = [-0.25, 0.25]
    /// Fringe visibility V of the partially coherent source (1 = laser).
    public var fringeVisibility: Double = 0.8
    /// Amplitude attenuation per µm of OPD: |O| = exp(−κ·OPD); cells are nearly transparent.
    public var attenuationPerUm: Double = 0.05
    /// Peak-to-valley of the smooth background aberration (object arm vs reference arm), rad.
    public var aberrationRad: Double = 3
    /// Illumination at the frame corners relative to the centre (a Gaussian beam).
    public var illuminationAtCorner: Double = 0.7
    /// Optional defocus of the object plane, µm (angular-spectrum propagation); 0 = in focus.
    public var defocusUm: Double = 0
    /// Softness of refractive-index boundaries, µm (see `CellPhantom.render`).
    public var edgeSoftnessUm: Double = 0.5
    /// Camera full-well capacity, electrons.
    public var fullWellElectrons: Double = 12000
    /// Brightest fringe maximum as a fraction of full well.
    public var exposure: Double = 0.85
    /// Read noise, electrons rms.
    public var readNoiseElectrons: Double = 6
    /// ADC bit depth: 8, 12 or 16 (12-bit data are stored in uint16).
    public var bitDepth: Int = 8
    /// Numerical aperture of the objective. The twin applies no pupil (the 0.5 µm edge
    /// softness already band-limits the cells far below it); it bounds how far a defocused
    /// cell's field spreads, |d|·tan(asin(NA/n)), which sets the padding of its propagation.
    public var numericalAperture: Double = 0.75
    /// Parasitic fringes, dust, illumination drift and an aged reference (ideal by default).
    public var referenceArm = ReferenceArm()

    public init() {}

    /// Pixel pitch in the sample plane, µm.
    public var pixelUm: Double { cameraPixelUm / magnification }

    /// Why a configuration cannot be simulated; `nil` when it is fine.
    public func validationError() -> String? {
        if ![8, 12, 16].contains(bitDepth) { return "bit depth must be 8, 12 or 16, not \(bitDepth)" }
        if !(wavelengthNm > 100 && wavelengthNm < 2000) { return "wavelength \(wavelengthNm) nm is outside 100–2000 nm" }
        if !(pixelUm > 0.01 && pixelUm < 10) { return "sample pixel \(pixelUm) µm is outside 0.01–10 µm" }
        if !(fringeVisibility > 0 && fringeVisibility <= 1) { return "fringe visibility must be in (0, 1]" }
        let f = (carrier * carrier).sum().squareRoot()
        if !(f > 0.05 && f < 0.5) { return "carrier \(carrier) cycles/px must have a magnitude in 0.05–0.5" }
        if !(exposure > 0 && exposure <= 1) { return "exposure must be in (0, 1]" }
        if !(mediumIndex >= 1 && mediumIndex < 2) { return "medium index \(mediumIndex) must be in 1–2" }
        if !(numericalAperture > 0 && numericalAperture < mediumIndex) { return "numerical aperture must be in (0, medium index)" }
        return referenceArm.validationError()
    }
}
