/// Cell totals of a run, as published under `cells` in the `counts` message.
public struct CellCounts: Sendable, Equatable, Codable {
    /// Cells published so far (each counted once: see docs/protocol.md).
    public var total: UInt64
    /// Per label: class names of the model, `unknown` (below the confidence threshold), or
    /// `unclassified` (no model configured).
    public var byClass: [String: UInt64]
    /// Cells per second since the previous `counts` message (since start-up for the first).
    public var perSecond: Double
    /// Objects that are not cells (debris, doublets, sperm, out-of-range objects), each counted
    /// once, by `ObjectRejection` reason: not in `total` or `by_class`.
    public var objectsRejectedByReason: [String: UInt64]

    public init(
        total: UInt64 = 0, byClass: [String: UInt64] = [:], perSecond: Double = 0, objectsRejectedByReason: [String: UInt64] = [:]
    ) {
        self.total = total
        self.byClass = byClass
        self.perSecond = perSecond
        self.objectsRejectedByReason = objectsRejectedByReason
    }

    enum CodingKeys: String, CodingKey {
        case total
        case byClass = "by_class"
        case perSecond = "per_second"
        case objectsRejectedByReason = "objects_rejected_by_reason"
    }

    /// Messages from before objects were counted have no `objects_rejected_by_reason`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        total = try c.decode(UInt64.self, forKey: .total)
        byClass = try c.decode([String: UInt64].self, forKey: .byClass)
        perSecond = try c.decode(Double.self, forKey: .perSecond)
        objectsRejectedByReason = try c.decodeIfPresent([String: UInt64].self, forKey: .objectsRejectedByReason) ?? [:]
    }
}
