import Foundation
import Protocol

/// What `flowd demo` reports at the end: the run scored against the twin's ground truth, printed
/// on the terminal and, with --summary-json, written as JSON (keys in docs/simulator.md).
struct DemoSummary: Encodable {
    var comparison: TruthComparison
    /// The daemon's final frame counters.
    var frames: FrameCounters
    /// Frames the camera sent (lines of truth.jsonl).
    var framesSent: Int
    /// Seconds the camera process ran (rendering ahead, then sending).
    var cameraSeconds: Double
    /// `cell` messages the demo received (equal to the daemon's count unless some were lost).
    var cellMessages: Int
    /// The run's FCS file, or `nil` with ``fcsNote`` saying why there is none.
    var fcsPath: String?
    var fcsNote: String?
    /// The same cells with their phase images, dclab's .rtdc (beside the FCS file), if written.
    var rtdcPath: String?
    var runDirectory: String
    var truthPath: String
    var model: String
    /// The daemon's objects that were not cells, by reason (its final `counts`).
    var objectsRejected: [String: UInt64]
    /// The twin's settings: size, pixel_um, concentration, seed, fps, rate.
    var twin: [String: Double]

    enum CodingKeys: String, CodingKey {
        case cellsTrue = "cells_true", cellsCounted = "cells_counted", countingError = "counting_error"
        case accuracy, balancedAccuracy = "balanced_accuracy", recall, classes, confusion
        case confusionColumns = "confusion_columns"
        case cellsMatched = "cells_matched", cellsCountedTwice = "cells_counted_twice"
        case cellsUnmatched = "cells_unmatched", cellsMissed = "cells_missed", cellMessages = "cell_messages"
        case precision, nonCellsTrue = "non_cells_true", nonCellsCounted = "non_cells_counted"
        case objectsRejected = "objects_rejected_by_reason"
        case framesSent = "frames_sent", framesReceived = "frames_received", framesDropped = "frames_dropped"
        case framesMalformed = "frames_malformed", cameraSeconds = "camera_seconds"
        case fcsPath = "fcs_path", fcsNote = "fcs_note", rtdcPath = "rtdc_path", runDirectory = "run_dir", truthPath = "truth_path", model, twin
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(comparison.cellsTrue, forKey: .cellsTrue)
        try c.encode(comparison.cellsCounted, forKey: .cellsCounted)
        try c.encode(comparison.countingError, forKey: .countingError)
        try c.encode(comparison.accuracy, forKey: .accuracy)
        try c.encode(comparison.balancedAccuracy, forKey: .balancedAccuracy)
        try c.encode(comparison.recall, forKey: .recall)
        try c.encode(comparison.classes, forKey: .classes)
        try c.encode(comparison.confusion, forKey: .confusion)
        try c.encode(comparison.predicted, forKey: .confusionColumns)
        try c.encode(comparison.cellsMatched, forKey: .cellsMatched)
        try c.encode(comparison.cellsCountedTwice, forKey: .cellsCountedTwice)
        try c.encode(comparison.cellsUnmatched, forKey: .cellsUnmatched)
        try c.encode(comparison.cellsMissed, forKey: .cellsMissed)
        try c.encode(comparison.precision, forKey: .precision)
        try c.encode(comparison.nonCellsTrue, forKey: .nonCellsTrue)
        try c.encode(comparison.nonCellsCounted, forKey: .nonCellsCounted)
        try c.encode(objectsRejected, forKey: .objectsRejected)
        try c.encode(cellMessages, forKey: .cellMessages)
        try c.encode(framesSent, forKey: .framesSent)
        try c.encode(frames.received, forKey: .framesReceived)
        try c.encode(frames.dropped, forKey: .framesDropped)
        try c.encode(frames.malformed, forKey: .framesMalformed)
        try c.encode(cameraSeconds, forKey: .cameraSeconds)
        try c.encode(fcsPath, forKey: .fcsPath)
        try c.encode(fcsNote, forKey: .fcsNote)
        try c.encode(rtdcPath, forKey: .rtdcPath)
        try c.encode(runDirectory, forKey: .runDirectory)
        try c.encode(truthPath, forKey: .truthPath)
        try c.encode(model, forKey: .model)
        try c.encode(twin, forKey: .twin)
    }

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(self) + [0x0A]).write(to: url, options: .atomic)
    }

    /// "too_small 3, irregular 2", or "none".
    private var rejectedByReason: String {
        let pairs: [String] = objectsRejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return pairs.isEmpty ? "none" : pairs.joined(separator: ", ")
    }

    /// The summary as the terminal shows it.
    func lines() -> [String] {
        let c = comparison
        func percent(_ value: Double?, signed: Bool = false) -> String {
            guard let value else { return "n/a" }
            return String(format: signed ? "%+.2f %%" : "%.1f %%", value * 100)
        }
        var lines = [
            "Summary against the twin's ground truth (\(truthPath))",
            "  frames    sent \(framesSent) (the camera ran " + String(format: "%.1f s", cameraSeconds)
                + "), received \(frames.received), dropped \(frames.dropped), malformed \(frames.malformed)",
            "  cells     true \(c.cellsTrue) (wholly in view at least once), counted \(c.cellsCounted), "
                + "counting error \(percent(c.countingError, signed: true))",
            "            matched to a true cell \(c.cellsMatched), counted twice \(c.cellsCountedTwice), "
                + "on no true cell \(c.cellsUnmatched), missed \(c.cellsMissed); precision \(percent(c.precision))",
            "  objects   true non-cells \(c.nonCellsTrue) (debris, doublets, sperm wholly in view), counted as cells "
                + "\(c.nonCellsCounted); rejected by reason: \(rejectedByReason)",
            "  accuracy  \(percent(c.accuracy)), balanced accuracy \(percent(c.balancedAccuracy)) (recall "
                + c.classes.map { "\($0) \(percent(c.recall[$0]))" }.joined(separator: ", ") + ")",
            "  confusion (rows: true class; columns: the label flowd gave)",
        ]
        let nameWidth = c.classes.map(\.count).max() ?? 0
        let columnWidths = c.predicted.map { max($0.count, 6) }
        lines.append(
            "    " + String(repeating: " ", count: nameWidth)
                + zip(c.predicted, columnWidths).map { "  " + $0.0.leftPadded(to: $0.1) }.joined())
        for (row, name) in c.classes.enumerated() {
            lines.append(
                "    " + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                    + zip(c.confusion[row], columnWidths).map { "  " + String($0.0).leftPadded(to: $0.1) }.joined())
        }
        lines.append("  FCS       " + (fcsPath ?? "none: \(fcsNote ?? "")"))
        lines.append("  .rtdc     " + (rtdcPath ?? "none"))
        if cellMessages != c.cellsCounted {
            lines.append("  note: \(cellMessages) cell messages received, the daemon counted \(c.cellsCounted)")
        }
        return lines
    }
}

extension String {
    /// Right-aligned in `width` columns (as is when longer).
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
