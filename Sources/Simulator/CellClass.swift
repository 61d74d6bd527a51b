/// What the twin puts in the flow. The first three are the labelled populations of the paper
/// (Rubin et al. 2019: healthy cells and colorectal adenocarcinoma lines of low and high
/// metastatic potential, SW480 and SW620, from the same patient); sperm cells are its unlabelled
/// pretraining population; debris and doublets are confounders a real sample always contains.
public enum CellClass: String, Sendable, CaseIterable, Codable {
    case healthy
    case primaryCancer = "primary_cancer"
    case metastaticCancer = "metastatic_cancer"
    case sperm
    case debris
    case doublet

    /// The three labelled classes, in label order (label 0, 1, 2).
    public static let labelled: [CellClass] = [.healthy, .primaryCancer, .metastaticCancer]

    /// Training label: 0–2 for the labelled classes, −1 (unlabelled) for the others.
    public var label: Int { Self.labelled.firstIndex(of: self) ?? -1 }
}
