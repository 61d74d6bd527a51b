/// What is measured on each cell, from its unwrapped OPD map.
///
/// Units: OPD in nm, area in µm². Phase volume V = ∫OPD dA = Σ OPD_nm·10⁻³ · A_pixel (µm³).
/// Dry mass m = V/α (Barer 1952): with α in mL/g = 10¹² µm³ / 10¹² pg = µm³/pg, m in pg is
/// V in µm³ divided by α (e.g. 100 µm³ at α = 0.18 → 556 pg).
public struct CellFeatures: Sendable, Codable, Equatable {
    /// Projected area above the mask threshold, µm².
    public var areaUm2: Double
    /// Mean and maximum OPD inside the mask, nm.
    public var meanOPDNm: Double
    public var maxOPDNm: Double
    /// ∫OPD dA over the mask, µm³.
    public var phaseVolumeUm3: Double
    /// Dry mass, pg.
    public var dryMassPg: Double
    /// Long / short axis of the moment ellipse (1 for a circle).
    public var aspectRatio: Double
    /// Area / area of the moment ellipse (≈ 1 for convex ellipses, lower for doublets).
    public var ellipseFill: Double

    enum CodingKeys: String, CodingKey {
        case areaUm2 = "area_um2", meanOPDNm = "mean_opd_nm", maxOPDNm = "max_opd_nm"
        case phaseVolumeUm3 = "phase_volume_um3", dryMassPg = "dry_mass_pg"
        case aspectRatio = "aspect_ratio", ellipseFill = "ellipse_fill"
    }

    /// Feature names as the dataset file and FCS channels use them, in a fixed order.
    public static let names = ["area_um2", "mean_opd_nm", "max_opd_nm", "phase_volume_um3", "dry_mass_pg", "aspect_ratio", "ellipse_fill"]

    /// Values in the order of `names`.
    public var values: [Double] { [areaUm2, meanOPDNm, maxOPDNm, phaseVolumeUm3, dryMassPg, aspectRatio, ellipseFill] }
}
