import Foundation

/// Fuses a cell's class probabilities over its classified views (appearances in several frames).
///
/// The fused distribution is the normalised geometric mean: the mean of the log-probabilities,
/// exponentiated and renormalised to sum to 1. Treating the appearances as independent views,
/// their evidence multiplies (a sum of logs); dividing by their number keeps the confidence of a
/// cell with 3 views comparable to one with 1, so that `classify.min_confidence` means the same
/// for both. Unlike the arithmetic mean, one view that strongly rules a class out (the cell
/// blurred) outweighs several that mildly favour it.
enum ProbabilityFusion {
    /// Probabilities below this enter the log as this, so that a 0 from softmax underflow
    /// cannot veto a class outright.
    static let floor = 1e-12

    /// `views`: one probability vector per appearance, all of the same length. Returns an empty
    /// vector when there is nothing to fuse.
    static func fuse(_ views: [[Float]]) -> [Double] {
        guard let count = views.first?.count, count > 0 else { return [] }
        var logSum = [Double](repeating: 0, count: count)
        for view in views {
            for k in 0..<count { logSum[k] += Foundation.log(max(Double(view[k]), floor)) }
        }
        let mean = logSum.map { $0 / Double(views.count) }
        let peak = mean.max()!
        let weights = mean.map { Foundation.exp($0 - peak) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }
}
