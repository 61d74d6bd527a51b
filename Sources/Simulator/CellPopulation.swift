/// The documented, fixed distributions of one labelled population (docs/simulator.md).
///
/// Values are means and standard deviations of normal distributions, clamped to physical
/// ranges. The three classes overlap on purpose: no single feature separates them; the nucleus,
/// nucleoli and texture together do, as in the paper's OPD maps where SW480 and SW620 differ in
/// subtle internal structure more than in size. Frozen on 2026-11-27 before any classifier was
/// trained on them (docs/simulator.md gives the separability they yield): change them only
/// with a new dataset version.
public struct CellPopulation: Sendable {
    /// Equivalent diameter of the cell body, µm.
    public var diameterUm: (mean: Double, sd: Double)
    /// In-plane aspect ratio b/a (≤ 1).
    public var aspect: (mean: Double, sd: Double)
    /// Height of the (suspended, nearly spherical) cell relative to its in-plane diameter.
    public var heightRatio: (mean: Double, sd: Double)
    /// Nucleus diameter / cell diameter (the square is the N/C area ratio).
    public var nucleusRatio: (mean: Double, sd: Double)
    /// Mean number of nucleoli (Poisson, at least one).
    public var nucleoliMean: Double
    /// Nucleolus diameter, µm.
    public var nucleolusDiameterUm: (mean: Double, sd: Double)
    /// Refractive-index contrast of the cytoplasm against the medium.
    public var cytoplasmDeltaN: (mean: Double, sd: Double)
    /// Extra contrast of the nucleus over the cytoplasm.
    public var nucleusDeltaN: (mean: Double, sd: Double)
    /// Extra contrast of nucleoli over the nucleus.
    public var nucleolusDeltaN: (mean: Double, sd: Double)
    /// Standard deviation of the granular refractive-index texture of the cytoplasm.
    public var textureDeltaN: (mean: Double, sd: Double)
    /// Correlation length of that texture, µm.
    public var textureLengthUm: Double

}

extension CellPopulation {
    /// Healthy colon epithelium-like cells: smallest nucleus, few nucleoli, smooth cytoplasm.
    public static let healthy = CellPopulation(
        diameterUm: (12.0, 1.4), aspect: (0.92, 0.04), heightRatio: (0.80, 0.06),
        nucleusRatio: (0.46, 0.05), nucleoliMean: 1.0, nucleolusDiameterUm: (1.0, 0.2),
        cytoplasmDeltaN: (0.030, 0.004), nucleusDeltaN: (0.006, 0.002), nucleolusDeltaN: (0.015, 0.004),
        textureDeltaN: (0.0015, 0.0005), textureLengthUm: 1.5)

    /// SW480-like primary colorectal adenocarcinoma: larger, more elongated, bigger nucleus.
    public static let primaryCancer = CellPopulation(
        diameterUm: (13.5, 1.8), aspect: (0.84, 0.07), heightRatio: (0.76, 0.06),
        nucleusRatio: (0.58, 0.05), nucleoliMean: 2.5, nucleolusDiameterUm: (1.2, 0.25),
        cytoplasmDeltaN: (0.028, 0.004), nucleusDeltaN: (0.010, 0.003), nucleolusDeltaN: (0.018, 0.005),
        textureDeltaN: (0.0030, 0.0008), textureLengthUm: 1.2)

    /// SW620-like metastatic line: rounder and smaller than SW480, largest N/C ratio, most
    /// nucleoli and the grainiest cytoplasm.
    public static let metastaticCancer = CellPopulation(
        diameterUm: (12.6, 1.6), aspect: (0.94, 0.03), heightRatio: (0.80, 0.06),
        nucleusRatio: (0.70, 0.05), nucleoliMean: 4.0, nucleolusDiameterUm: (1.2, 0.25),
        cytoplasmDeltaN: (0.026, 0.004), nucleusDeltaN: (0.014, 0.003), nucleolusDeltaN: (0.020, 0.005),
        textureDeltaN: (0.0045, 0.0010), textureLengthUm: 0.9)

    /// The population of a labelled class; `nil` for sperm, debris and doublets.
    public static func of(_ cellClass: CellClass) -> CellPopulation? {
        switch cellClass {
        case .healthy: .healthy
        case .primaryCancer: .primaryCancer
        case .metastaticCancer: .metastaticCancer
        case .sperm, .debris, .doublet: nil
        }
    }
}
