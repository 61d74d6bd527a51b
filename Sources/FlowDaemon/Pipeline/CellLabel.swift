/// What the classifier says about one cell: its label and the fused class probabilities it was
/// read from (empty for `unclassified`). The pipeline's own type: the probabilities of single
/// views stay inside ``CellPipeline``'s labelling and are never stored on a detection.
struct CellLabel {
    /// A class of the model, `unknown` (below `classify.min_confidence`) or `unclassified` (no
    /// model, or its classification failed).
    var label: String
    /// Per class, the fused probability (``ProbabilityFusion``).
    var probabilities: [String: Double]

    static let unclassified = CellLabel(label: "unclassified", probabilities: [:])
}
