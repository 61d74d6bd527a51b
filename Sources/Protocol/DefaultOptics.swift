/// The optics a frame is assumed to have when neither its header (`wavelength_nm`, `pixel_um`)
/// nor the config says otherwise: the twin's rig and the paper's setup (Rubin et al. 2019, a
/// 633 nm low-coherence source, ≈ 0.1 µm sample pixels). The one place these numbers are written.
public enum DefaultOptics {
    /// Illumination wavelength in vacuum, nm.
    public static let wavelengthNm = 633.0
    /// Hologram pixel pitch in the sample plane (camera pixel / magnification), µm.
    public static let pixelUm = 0.107
    /// Specific refractive increment α, mL/g (= µm³/pg), for dry mass m = (1/α)∫OPD dA
    /// (Barer 1952; Popescu et al. 2008; 0.18–0.20 for most cells).
    public static let alphaMlPerGram = 0.18
    /// Refractive index of the medium the cells flow in (culture medium / PBS at 633 nm), for
    /// angular-spectrum refocusing.
    public static let mediumIndex = 1.335
}
