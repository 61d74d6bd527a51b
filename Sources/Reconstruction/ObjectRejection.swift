/// Why an object in the field is not counted as a cell. A sample holds more than the three
/// labelled kinds of cell: debris, clumps and doublets, sperm or other elongated cells. Each
/// object found is measured, and those outside the accepted ranges (``ReconstructionParameters``)
/// are reported with the first criterion they fail, so that the daemon counts them by reason
/// instead of labelling them as one of the classes.
public enum ObjectRejection: String, Sendable, CaseIterable, Codable {
    /// Projected area below `minAreaUm2` (debris, fragments).
    case tooSmall = "too_small"
    /// Projected area above `maxAreaUm2` (clumps).
    case tooLarge = "too_large"
    /// Moment-ellipse aspect above `maxAspectRatio` (doublets in line, sperm, elongated cells).
    case elongated
    /// Area below `minEllipseFill` of its moment ellipse (doublets, irregular clumps).
    case irregular
}
