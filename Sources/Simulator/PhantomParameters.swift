/// The generative parameters a labelled cell was drawn with: everything its class changes, as
/// one record (`flowd simulate --phantom-parameters`), for the Bayes ceiling of
/// scripts/bayes-ceiling: a classifier that sees these instead of the image is an upper bound
/// for any image classifier that does not read the class from the texture grain size (the
/// texture correlation length is a per-class constant, docs/simulator.md, so the ceiling leaves
/// out `textureLengthUm`). `flowd extract --simulate` writes them for each labelled crop
/// (`phantom_parameters`, in ``names`` order) as regression targets.
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
    /// Correlation length of that texture, µm: the population's constant, not a draw.
    public var textureLengthUm: Double

    enum CodingKeys: String, CodingKey {
        case diameterUm = "diameter_um", aspect, heightRatio = "height_ratio", nucleusRatio = "nucleus_ratio", nucleoli
        case nucleolusDiameterUm = "nucleolus_diameter_um", cytoplasmDeltaN = "cytoplasm_delta_n"
        case nucleusDeltaN = "nucleus_delta_n", nucleolusDeltaN = "nucleolus_delta_n", textureDeltaN = "texture_delta_n"
        case textureLengthUm = "texture_length_um"
    }

    /// The parameters' names (their JSON keys), in the order of ``values``.
    public static let names = [
        "diameter_um", "aspect", "height_ratio", "nucleus_ratio", "nucleoli", "nucleolus_diameter_um",
        "cytoplasm_delta_n", "nucleus_delta_n", "nucleolus_delta_n", "texture_delta_n", "texture_length_um",
    ]

    /// The parameters as numbers, in the order of ``names``.
    public var values: [Double] {
        [
            diameterUm, aspect, heightRatio, nucleusRatio, Double(nucleoli), nucleolusDiameterUm, cytoplasmDeltaN, nucleusDeltaN,
            nucleolusDeltaN, textureDeltaN, textureLengthUm,
        ]
    }
}
