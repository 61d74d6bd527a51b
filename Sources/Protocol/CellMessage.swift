import Foundation

/// The `cell` message, version 1 (docs/protocol.md): one per counted cell, published once its
/// track has ended (the cell has left the field of view, or the daemon is stopping).
public struct CellMessage: Sendable, Equatable, Codable {
    public var v: Int = 1
    /// The camera id the cell was seen by.
    public var camera: String
    /// Per camera: 0, 1, 2, … in publishing order (restarts with the daemon).
    public var cellID: UInt64
    /// `seq` of the frame of the best appearance, when the camera sends one.
    public var seq: UInt64?
    /// `t_ns` of that frame, when the camera sends one (the camera's clock).
    public var tNanoseconds: Int64?
    /// Centroid of the best appearance, hologram pixels (x = column, y = row).
    public var xPixels: Double
    public var yPixels: Double
    /// Bounding box of the best appearance, hologram pixels: [x, y, width, height].
    public var bbox: [Int]
    /// The class with the highest fused probability; `unknown` below the confidence threshold,
    /// `unclassified` when no model is configured.
    public var label: String
    /// Fused class probabilities (summing to 1); empty when no model is configured.
    public var probabilities: [String: Double]
    /// Measurements on the best appearance (names and units as in `CellFeatures`: area_um2,
    /// mean_opd_nm, max_opd_nm, phase_volume_um3, dry_mass_pg, aspect_ratio, ellipse_fill).
    /// A non-finite value is left out.
    public var features: [String: Double]
    /// Conditions of the measurement a reader should know of; absent when there are none.
    /// `refocus_failed`: refocusing found no focus within `reconstruction.refocus_range_um`, so
    /// the features (and `focus_um`'s absence) are those of the recorded plane.
    public var flags: [String]?
    /// Frames the cell appeared in.
    public var framesSeen: Int
    /// Milliseconds from the arrival of the frame the cell was last seen in to publishing: the
    /// daemon's part of the delay (the time the cell took to cross the field is not in it).
    public var latencyMilliseconds: Double

    public init(
        camera: String, cellID: UInt64, seq: UInt64?, tNanoseconds: Int64?, xPixels: Double, yPixels: Double,
        bbox: [Int], label: String, probabilities: [String: Double], features: [String: Double], flags: [String]? = nil,
        framesSeen: Int, latencyMilliseconds: Double
    ) {
        self.camera = camera
        self.cellID = cellID
        self.seq = seq
        self.tNanoseconds = tNanoseconds
        self.xPixels = xPixels
        self.yPixels = yPixels
        self.bbox = bbox
        self.label = label
        self.probabilities = probabilities.filter { $0.value.isFinite }
        self.features = features.filter { $0.value.isFinite }
        self.flags = flags?.isEmpty == true ? nil : flags
        self.framesSeen = framesSeen
        self.latencyMilliseconds = latencyMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case v, camera
        case cellID = "cell_id"
        case seq
        case tNanoseconds = "t_ns"
        case xPixels = "x_px"
        case yPixels = "y_px"
        case bbox, label, probabilities, features, flags
        case framesSeen = "frames_seen"
        case latencyMilliseconds = "latency_ms"
    }

    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Non-finite values were filtered out at init and positions are finite (centroids of
        // masks), so encoding cannot fail.
        return Array(try! encoder.encode(self))
    }
}
