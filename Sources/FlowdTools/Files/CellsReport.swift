import Reconstruction

/// CELLS.json of `flowd reconstruct`.
struct CellsReport: Codable {
    /// Sideband position (ky, kx), frequency bins.
    var sideband: [Double]
    /// Shape of the decimated field the pipeline worked on.
    var fieldShape: [Int]
    var cells: [CellRecord]

    enum CodingKeys: String, CodingKey { case sideband, fieldShape = "field_shape", cells }
}

/// One cell in CELLS.json: bbox [x, y, width, height] and centroid [x, y] in hologram pixels.
struct CellRecord: Codable {
    var bbox: [Int]
    var centroid: [Double]
    var touchesEdge: Bool
    var residues: Int
    var features: CellFeatures

    enum CodingKeys: String, CodingKey { case bbox, centroid, touchesEdge = "touches_edge", residues, features }

    init(_ cell: DetectedCell) {
        bbox = [cell.box.x, cell.box.y, cell.box.width, cell.box.height]
        centroid = [cell.x, cell.y]
        touchesEdge = cell.touchesEdge
        residues = cell.residues
        features = cell.features
    }
}
