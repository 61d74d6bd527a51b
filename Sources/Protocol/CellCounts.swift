/// Cell totals of a run, as published under `cells` in the `counts` message.
public struct CellCounts: Sendable, Equatable, Codable {
    /// Cells published so far (each counted once: see docs/protocol.md).
    public var total: UInt64
    /// Per label: class names of the model, `unknown` (below the confidence threshold), or
    /// `unclassified` (no model configured).
    public var byClass: [String: UInt64]
    /// Cells per second since the previous `counts` message (since start-up for the first).
    public var perSecond: Double

    public init(total: UInt64 = 0, byClass: [String: UInt64] = [:], perSecond: Double = 0) {
        self.total = total
        self.byClass = byClass
        self.perSecond = perSecond
    }

    enum CodingKeys: String, CodingKey {
        case total
        case byClass = "by_class"
        case perSecond = "per_second"
    }
}
