extension Array where Element: Comparable {
    /// The `q`-quantile of this sorted array by the nearest-rank method (the smallest element with
    /// at least `q` of the elements at or below it); nil when empty. What every bench reports as p50/p99.
    func nearestRank(_ q: Double) -> Element? {
        guard !isEmpty else { return nil }
        return self[Swift.min(count - 1, Swift.max(0, Int((q * Double(count)).rounded(.up)) - 1))]
    }
}
