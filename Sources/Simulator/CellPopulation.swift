/// The documented, fixed distributions of one labelled population (docs/simulator.md), as read
/// from a class-parameter file (``ClassParameters``).
///
/// Values are normal distributions clamped to physical ranges. The three classes overlap on
/// purpose: no single feature separates them; the nucleus, nucleoli and texture together do, as
/// in the paper's OPD maps where SW480 and SW620 differ in subtle internal structure more than in
/// size. The standard set was frozen on 2026-11-27 before any classifier was trained on it
/// (docs/simulator.md gives the separability it yields): change it only with a new dataset
/// version.
public struct CellPopulation: Sendable, Decodable, Equatable {
    /// A normal distribution N(mean, sd²) whose draws are clamped to [min, max].
    public struct Distribution: Sendable, Decodable, Equatable {
        public var mean: Double
        public var sd: Double
        public var min: Double
        public var max: Double
    }

    /// Equivalent diameter of the cell body, µm.
    public var diameterUm: Distribution
    /// In-plane aspect ratio b/a (≤ 1).
    public var aspect: Distribution
    /// Height of the (suspended, nearly spherical) cell relative to its in-plane diameter.
    public var heightRatio: Distribution
    /// Nucleus diameter / cell diameter (the square is the N/C area ratio).
    public var nucleusRatio: Distribution
    /// Mean number of nucleoli (Poisson, at least one).
    public var nucleoliMean: Double
    /// Nucleolus diameter, µm.
    public var nucleolusDiameterUm: Distribution
    /// Refractive-index contrast of the cytoplasm against the medium.
    public var cytoplasmDeltaN: Distribution
    /// Contrast of the nucleus over the cytoplasm (negative where nuclei are less dense).
    public var nucleusDeltaN: Distribution
    /// Extra contrast of nucleoli over the nucleus.
    public var nucleolusDeltaN: Distribution
    /// Standard deviation of the granular refractive-index texture of the cytoplasm.
    public var textureDeltaN: Distribution
    /// Correlation length of that texture, µm.
    public var textureLengthUm: Double

    enum CodingKeys: String, CodingKey {
        case diameterUm = "diameter_um", aspect, heightRatio = "height_ratio", nucleusRatio = "nucleus_ratio"
        case nucleoliMean = "nucleoli_mean", nucleolusDiameterUm = "nucleolus_diameter_um"
        case cytoplasmDeltaN = "cytoplasm_delta_n", nucleusDeltaN = "nucleus_delta_n", nucleolusDeltaN = "nucleolus_delta_n"
        case textureDeltaN = "texture_delta_n", textureLengthUm = "texture_length_um"
    }
}

extension SimulationRandom {
    /// A draw from `distribution`, clamped to its range.
    public mutating func normal(_ distribution: CellPopulation.Distribution) -> Double {
        normal(distribution.mean, distribution.sd, in: distribution.min...distribution.max)
    }
}
