/// The generative parameters a labelled cell was drawn with: everything its class changes, as
/// one record (`flowd simulate --phantom-parameters`), for the Bayes ceiling of
/// scripts/bayes-ceiling: a classifier that sees these instead of the image is an upper bound
/// for any image classifier that does not read the class from the texture grain size (the
/// texture correlation length is a per-class constant, docs/simulator.md).
public struct PhantomParameters: Sendable, Codable, Equatable {
    public var diameterUm: Double
    public var aspect: Double
    public var heightRatio: Double
    public var nucleusRatio: Double
    /// Number of nucleoli.
    public var nucleoli: Int
    /// Mean diameter of the nucleoli, µm.
    public var nucleolusDiameterUm: Double
    public var cytoplasmDeltaN: Double
    /// Contrast of the nucleus over the cytoplasm.
    public var nucleusDeltaN: Double
    /// Mean contrast of the nucleoli over the nucleus.
    public var nucleolusDeltaN: Double
    /// Standard deviation of the cytoplasm's texture Δn.
    public var textureDeltaN: Double

    enum CodingKeys: String, CodingKey {
        case diameterUm = "diameter_um", aspect, heightRatio = "height_ratio", nucleusRatio = "nucleus_ratio", nucleoli
        case nucleolusDiameterUm = "nucleolus_diameter_um", cytoplasmDeltaN = "cytoplasm_delta_n"
        case nucleusDeltaN = "nucleus_delta_n", nucleolusDeltaN = "nucleolus_delta_n", textureDeltaN = "texture_delta_n"
    }
}
