import Reconstruction

/// CELLS.json of `flowd reconstruct`.
struct CellsReport: Codable {
    /// Sideband position (ky, kx), frequency bins.
    var sideband: [Double]
    /// Shape of the decimated field the pipeline worked on.
    var fieldShape: [Int]
    /// The sign the phase was given (`as-is` or `inverted`), and whether `auto` decided it.
    var phaseSign: String
    var phaseSignSetting: String
    /// Whether cells were refocused (`auto`) or measured in the recorded plane (`off`).
    var refocus: String
    var cells: [CellRecord]

    enum CodingKeys: String, CodingKey {
        case sideband, fieldShape = "field_shape", phaseSign = "phase_sign", phaseSignSetting = "phase_sign_setting"
        case refocus, cells
    }
}

/// One cell in CELLS.json: bbox [x, y, width, height] and centroid [x, y] in hologram pixels;
/// its features (``CellFeatures/names``, measured on the refocused field) and `focus_um`, the
/// distance its recorded field was propagated to be in focus (absent when not refocused).
struct CellRecord: Codable {
    var bbox: [Int]
    var centroid: [Double]
    var touchesEdge: Bool
    var residues: Int
    var refocusFailed: Bool
    var features: [String: Double]

    enum CodingKeys: String, CodingKey {
        case bbox, centroid, touchesEdge = "touches_edge", residues, refocusFailed = "refocus_failed", features
    }

    init(_ cell: DetectedCell) {
        bbox = [cell.box.x, cell.box.y, cell.box.width, cell.box.height]
        centroid = [cell.x, cell.y]
        touchesEdge = cell.touchesEdge
        residues = cell.residues
        refocusFailed = cell.refocusFailed
        features = Dictionary(uniqueKeysWithValues: zip(CellFeatures.names, cell.features.values))
        features["focus_um"] = cell.focusUm
    }
}
