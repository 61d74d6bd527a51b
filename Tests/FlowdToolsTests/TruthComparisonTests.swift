import Foundation
import Protocol
import Simulator
import Testing

@testable import FlowdTools

/// A truth cell of 40 px extent at (x, y); `inside`: wholly in view in this frame.
private func truthCell(_ id: Int, _ cellClass: CellClass, x: Double, y: Double, inside: Bool = true) -> CellTruth {
    CellTruth(id: id, cellClass: cellClass, label: cellClass.label, x: x, y: y, extentPixels: 40, fullyInside: inside, opdSumNm: 1)
}

/// A published cell at (x, y) of frame `seq` with `label`.
private func published(_ id: UInt64, seq: UInt64?, x: Double, y: Double, label: String) -> CellMessage {
    CellMessage(
        camera: "twin", cellID: id, seq: seq, tNanoseconds: nil, xPixels: x, yPixels: y, bbox: [0, 0, 1, 1], label: label,
        probabilities: [:], features: [:], framesSeen: 3, latencyMilliseconds: 2)
}

private let classes = CellClass.labelled.map(\.rawValue)

/// Two frames: cell 1 (healthy) and cell 2 (primary) wholly in view, cell 3 (metastatic) wholly
/// in view in frame 1 only, cell 4 (healthy) a sliver at the edge in both frames, never whole;
/// object 5, a doublet, wholly in view in frame 1.
private let truth = GroundTruth(frames: [
    0: [
        truthCell(1, .healthy, x: 100, y: 100), truthCell(2, .primaryCancer, x: 300, y: 100),
        truthCell(3, .metastaticCancer, x: 20, y: 300, inside: false), truthCell(4, .healthy, x: 1000, y: 500, inside: false),
    ],
    1: [
        truthCell(1, .healthy, x: 280, y: 100), truthCell(2, .primaryCancer, x: 480, y: 100),
        truthCell(3, .metastaticCancer, x: 200, y: 300), truthCell(4, .healthy, x: 1010, y: 500, inside: false),
        truthCell(5, .doublet, x: 600, y: 600),
    ],
])

@Suite("Scoring the demo against the twin's ground truth")
struct TruthComparisonTests {
    @Test("countable cells are those wholly in view in at least one frame (flowd's counting rule)")
    func countable() {
        #expect(truth.countable == [1: .healthy, 2: .primaryCancer, 3: .metastaticCancer])
        #expect(truth.nonCells == [5: .doublet], "a doublet is an object to reject, not a cell to count")
    }

    @Test("a published centroid belongs to the nearest true cell of its frame, within that cell's extent")
    func matching() {
        #expect(truth.cell(frame: 0, x: 110, y: 95)?.id == 1)
        #expect(truth.cell(frame: 1, x: 110, y: 95) == nil)  // cell 1 has moved on by frame 1
        #expect(truth.cell(frame: 0, x: 100, y: 141) == nil)  // 41 px from the centre, extent 40
        #expect(truth.cell(frame: 7, x: 100, y: 100) == nil)  // a frame the truth does not have
    }

    @Test("counts, duplicates, strays and misses; the confusion matrix, accuracy and balanced accuracy")
    func comparison() {
        let cells = [
            published(0, seq: 0, x: 102, y: 101, label: "healthy"),  // cell 1, right
            published(1, seq: 1, x: 478, y: 99, label: "metastatic_cancer"),  // cell 2, wrong
            published(2, seq: 1, x: 482, y: 101, label: "primary_cancer"),  // cell 2 again, right
            published(3, seq: 1, x: 281, y: 100, label: "healthy"),  // cell 1 again, right
            published(4, seq: 0, x: 700, y: 700, label: "healthy"),  // on no cell
            published(5, seq: nil, x: 100, y: 100, label: "healthy"),  // no frame to look in
            published(6, seq: 0, x: 1005, y: 500, label: "unknown"),  // the sliver, below the threshold
            published(7, seq: 1, x: 605, y: 598, label: "healthy"),  // the doublet, counted as a cell
        ]
        let c = TruthComparison(cells: cells, cellsCounted: 8, truth: truth, classes: classes)
        #expect(c.cellsTrue == 3 && c.cellsCounted == 8)
        #expect(c.countingError == 5.0 / 3)  // (8 − 3) / 3
        #expect(c.cellsMatched == 4 && c.cellsCountedTwice == 2 && c.cellsUnmatched == 2)
        #expect(c.nonCellsTrue == 1 && c.nonCellsCounted == 1)
        #expect(c.precision == 3.0 / 8)  // cells 1, 2 and the sliver 4, once each, of 8 messages
        #expect(c.cellsMissed == 1)  // cell 3
        #expect(c.predicted == classes + ["unknown"])
        #expect(c.confusion == [[2, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]])
        #expect(c.accuracy == 0.6)  // 3 right of 5 messages on labelled cells
        #expect(c.recall == ["healthy": 2.0 / 3, "primary_cancer": 0.5])
        #expect(c.balancedAccuracy == (2.0 / 3 + 0.5) / 2)  // metastatic has no messages: not averaged
    }

    @Test("no true cells and no classified messages give no error and no accuracy, not a division by zero")
    func empty() {
        let c = TruthComparison(cells: [], cellsCounted: 0, truth: GroundTruth(frames: [:]), classes: classes)
        #expect(c.countingError == nil && c.accuracy == nil && c.balancedAccuracy == nil)
        #expect(c.confusion == [[0, 0, 0], [0, 0, 0], [0, 0, 0]])
    }

    @Test("the JSON summary has every documented key, the confusion matrix with its column names")
    func summaryJSON() throws {
        let cells = [published(0, seq: 0, x: 100, y: 100, label: "healthy")]
        let summary = DemoSummary(
            comparison: TruthComparison(cells: cells, cellsCounted: 1, truth: truth, classes: classes),
            frames: FrameCounters(received: 2), framesSent: 2, cameraSeconds: 1, cellMessages: 1, fcsPath: nil,
            fcsNote: "none", runDirectory: "/run", truthPath: "/run/camera/truth.jsonl", model: "m.safetensors",
            objectsRejected: ["irregular": 2], twin: ["size": 1024])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try summary.write(to: url)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for key in [
            "cells_true", "cells_counted", "counting_error", "accuracy", "balanced_accuracy", "confusion", "classes", "fcs_path",
            "precision", "non_cells_true", "non_cells_counted", "objects_rejected_by_reason",
        ] {
            #expect(json.keys.contains(key), "missing \(key)")
        }
        #expect(json["cells_true"] as? Int == 3)
        #expect(json["classes"] as? [String] == classes)
        #expect(json["confusion_columns"] as? [String] == classes)
        #expect(json["fcs_path"] is NSNull)
        #expect(json["objects_rejected_by_reason"] as? [String: Int] == ["irregular": 2])
        #expect((json["counting_error"] as? Double).map { abs($0 - (1.0 - 3) / 3) < 1e-12 } == true)
    }
}
