import Foundation
import Protocol

/// One server-sent event of the dashboard (`event: update`): the daemon's status, and the cells
/// and gallery crops that are new since the page's previous update.
///
/// Crops travel as 8-bit codes between their own `min_nm` and `max_nm` (64 × 64 → 4 KiB, base64
/// 5.5 KiB): the page maps them through its colour scale; 8 bits are finer than a screen's
/// colour map steps.
public struct DashboardUpdate: Encodable, Sendable {
    public struct Point: Encodable, Sendable {
        /// Label, dry mass (pg), area (µm²).
        let l: String
        let m: Double?
        let a: Double?
    }

    public struct Crop: Encodable, Sendable {
        let id: String
        let label: String
        let side: Int
        let minNm: Double
        let maxNm: Double
        /// Base64 of `side × side` bytes, row-major: OPD = min + code / 255 × (max − min).
        let codes: String

        enum CodingKeys: String, CodingKey {
            case id, label, side, codes
            case minNm = "min_nm"
            case maxNm = "max_nm"
        }
    }

    public let status: JSONValue
    public let points: [Point]
    public let crops: [Crop]

    public init(status: JSONValue, points: [CellFeed.Point], crops: [CellFeed.Crop]) {
        self.status = status
        self.points = points.map { Point(l: $0.label, m: $0.dryMassPg, a: $0.areaUm2) }
        self.crops = crops.compactMap(Self.encode)
    }

    /// Nil for a crop that is not square (never made by the pipeline).
    static func encode(_ crop: CellFeed.Crop) -> Crop? {
        let side = Int(Double(crop.opdNm.count).squareRoot())
        guard side > 0, side * side == crop.opdNm.count else { return nil }
        let finite = crop.opdNm.filter(\.isFinite)
        let low = Double(finite.min() ?? 0), high = Double(finite.max() ?? 0)
        let span = high > low ? high - low : 1
        let codes = crop.opdNm.map { value -> UInt8 in
            guard value.isFinite else { return 0 }
            return UInt8(((Double(value) - low) / span * 255).rounded().clamped(0, 255))
        }
        return Crop(
            id: "\(crop.camera)/\(crop.cellID)", label: crop.label, side: side, minNm: low, maxNm: high,
            codes: Data(codes).base64EncodedString())
    }

    /// The event as sent on the wire.
    public func serverSentEvent() -> String {
        "event: update\ndata: \(Self.json(self))\n\n"
    }

    /// Compact JSON with sorted keys; a non-finite number (never expected) becomes a string
    /// ("NaN", "Infinity") rather than failing the whole update.
    public static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension Double {
    fileprivate func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(Swift.max(self, low), high) }
}
