import FlowDaemon
import Foundation
import Simulator

/// truth.jsonl, the twin's ground truth: one JSON line per frame (``TruthLine``: the frame index
/// and every cell at least partly in view).
///
/// Written line by line as the frames are made or sent, each line flushed to the file at once,
/// so that a run stopped at any point leaves the truth of exactly the frames that went out, and
/// memory does not grow with the number of frames.
final class TruthFile {
    private let handle: FileHandle
    private let encoder: JSONEncoder
    let url: URL
    /// Lines written so far.
    private(set) var frames = 0
    /// Ids of the cells seen so far (the number of distinct cells goes into twin.json).
    private(set) var cellIDs = Set<Int>()

    /// Creates (or empties) the file.
    init(creating url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw HologramFileError("\(url.path): cannot create the truth file")
        }
        handle = try FileHandle(forWritingTo: url)
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.url = url
    }

    deinit { try? handle.close() }

    /// Appends the truth of frame `frame`.
    func append(frame: Int, cells: [CellTruth]) throws {
        try handle.write(contentsOf: encoder.encode(TruthLine(frame: frame, cells: cells)) + [0x0A])
        frames += 1
        cellIDs.formUnion(cells.map(\.id))
    }

    /// The truth of every frame in `url`, by frame index. A line that is not a ``TruthLine`` is
    /// an error naming its line number.
    static func read(_ url: URL) throws -> [Int: [CellTruth]] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw HologramFileError("\(url.path): cannot read the truth file (\(error.localizedDescription))")
        }
        var truth: [Int: [CellTruth]] = [:]
        let decoder = JSONDecoder()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let entry = try? decoder.decode(TruthLine.self, from: Data(line.utf8)) else {
                throw HologramFileError("\(url.path):\(number + 1): not a truth line: \(line.prefix(80))")
            }
            truth[entry.frame] = entry.cells
        }
        return truth
    }
}
