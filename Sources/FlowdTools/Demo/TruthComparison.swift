import Protocol
import Simulator

/// The daemon's published cells scored against the twin's ground truth: how many cells it
/// counted against how many there were, and how well it classified them.
///
/// Each `cell` message is matched to the true cell under its best appearance
/// (``GroundTruth/cell(frame:x:y:)``, with the message's `seq` as the frame index: the twin's
/// camera numbers its frames from 0, as truth.jsonl does). A message on no true cell is
/// unmatched; a second message on the same true cell counted it twice; a countable true cell
/// with no message was missed.
struct TruthComparison: Equatable {
    /// Countable true cells (wholly in view at least once).
    var cellsTrue: Int
    /// Cells the daemon counted (its final `counts`).
    var cellsCounted: Int
    /// Messages on a true cell, the first for that cell.
    var cellsMatched = 0
    /// Further messages on a true cell already matched.
    var cellsCountedTwice = 0
    /// Messages on no true cell, or without a `seq` to find the frame by.
    var cellsUnmatched = 0
    /// Countable true cells no message was matched to.
    var cellsMissed = 0
    /// Objects that are not cells (debris, doublets, sperm) wholly in view at least once.
    var nonCellsTrue: Int
    /// Messages on such an object: counted as a cell although it is none.
    var nonCellsCounted = 0
    /// The true classes (rows of ``confusion``).
    var classes: [String]
    /// The predicted labels (columns of ``confusion``): ``classes``, then any other label the
    /// daemon gave (`unknown` below its confidence threshold, `unclassified` without a model).
    var predicted: [String]
    /// Messages matched to a true cell of a class in ``classes``, by true class (row) and label
    /// (column).
    var confusion: [[Int]]

    /// Of the messages, the share that is a cell counted for the first time: 1 − (duplicates,
    /// strays and non-cells) / messages; `nil` without messages.
    var precision: Double? {
        let messages = cellsMatched + cellsCountedTwice + cellsUnmatched
        return messages > 0 ? Double(cellsMatched - nonCellsCounted) / Double(messages) : nil
    }

    /// (counted − true) / true; `nil` without true cells.
    var countingError: Double? {
        cellsTrue > 0 ? Double(cellsCounted - cellsTrue) / Double(cellsTrue) : nil
    }

    /// Correctly labelled / classified messages (the confusion matrix's diagonal over its sum).
    var accuracy: Double? {
        let total = confusion.joined().reduce(0, +)
        return total > 0 ? Double(classes.indices.map { confusion[$0][$0] }.reduce(0, +)) / Double(total) : nil
    }

    /// Recall of each class that has classified messages.
    var recall: [String: Double] {
        var recall: [String: Double] = [:]
        for (row, name) in classes.enumerated() {
            let total = confusion[row].reduce(0, +)
            if total > 0 { recall[name] = Double(confusion[row][row]) / Double(total) }
        }
        return recall
    }

    /// The mean recall over the classes present: accuracy that a skewed mixture cannot inflate
    /// (the model card's figure).
    var balancedAccuracy: Double? {
        let values = recall.values
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// - Parameters:
    ///   - cells: the `cell` messages received.
    ///   - cellsCounted: the daemon's own count (`cells.total` of its final `counts`).
    ///   - classes: the true classes to score (the model's classes).
    init(cells: [CellMessage], cellsCounted: Int, truth: GroundTruth, classes: [String]) {
        self.cellsTrue = truth.countable.count
        nonCellsTrue = truth.nonCells.count
        self.cellsCounted = cellsCounted
        self.classes = classes
        let otherLabels = Set(cells.map(\.label)).subtracting(classes).sorted()
        predicted = classes + otherLabels
        confusion = Array(repeating: Array(repeating: 0, count: predicted.count), count: classes.count)
        var matchedIDs = Set<Int>()
        for message in cells {
            guard let seq = message.seq.flatMap({ Int(exactly: $0) }),
                let owner = truth.cell(frame: seq, x: message.xPixels, y: message.yPixels)
            else {
                cellsUnmatched += 1
                continue
            }
            if matchedIDs.insert(owner.id).inserted { cellsMatched += 1 } else { cellsCountedTwice += 1 }
            if owner.label < 0 { nonCellsCounted += 1 }
            if let row = classes.firstIndex(of: owner.cellClass.rawValue), let column = predicted.firstIndex(of: message.label) {
                confusion[row][column] += 1
            }
        }
        cellsMissed = truth.countable.keys.filter { !matchedIDs.contains($0) }.count
    }
}
