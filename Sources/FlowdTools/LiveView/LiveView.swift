import Foundation
import Protocol

/// The live view of a flowd result stream, drawn by `flowd watch` and `flowd demo`: frames
/// received, dropped and malformed with their rate, cells counted with their rate, the count of
/// each class with its share and a horizontal bar, the daemon's uptime, and the latest cell.
///
/// It only renders text; ``LiveScreen`` puts it on the terminal. Rates come from the stream
/// itself: frames per second between consecutive `counts` messages (their `uptime_s`), cells
/// per second as the daemon publishes it (`cells.per_second`).
struct LiveView {
    /// The endpoint the stream comes from, for the header.
    let endpoint: String
    /// Classes listed first, in this order (say, the model's); any other label follows
    /// alphabetically, `unknown` and `unclassified` last.
    var classOrder: [String] = []
    /// Lines shown under the counts (the demo's camera status).
    var notes: [String] = []

    private(set) var latest: CountsMessage?
    /// Frames received per second between the two latest `counts` messages.
    private(set) var frameRate: Double?
    /// `cell` messages this reader received.
    private(set) var cellMessages = 0
    private(set) var lastCell: CellMessage?
    /// Messages that were not valid `counts` or `cell` (shown, never ignored).
    private(set) var undecodable = 0
    private(set) var lastUndecodable: String?
    /// Latencies of the latest cells, ms (a window of ``latencyWindow``).
    private var latencies: [Double] = []
    private static let latencyWindow = 500

    init(endpoint: String) {
        self.endpoint = endpoint
    }

    mutating func observe(_ message: ResultSubscriber.Message) {
        switch message {
        case .counts(let counts):
            if let previous = latest, counts.uptimeSeconds > previous.uptimeSeconds,
                counts.frames.received >= previous.frames.received
            {
                frameRate = Double(counts.frames.received - previous.frames.received)
                    / (counts.uptimeSeconds - previous.uptimeSeconds)
            } else {
                frameRate = nil  // the first message, or a restarted daemon
            }
            latest = counts
        case .cell(let cell):
            cellMessages += 1
            lastCell = cell
            latencies.append(cell.latencyMilliseconds)
            if latencies.count > Self.latencyWindow { latencies.removeFirst(latencies.count - Self.latencyWindow) }
        case .undecodable(let topic, let reason):
            undecodable += 1
            lastUndecodable = "\(topic): \(reason)"
        }
    }

    /// The labels of `counts.cells.by_class` in display order.
    func orderedLabels(_ byClass: [String: UInt64]) -> [String] {
        let last = ["unknown", "unclassified"]
        let known = classOrder.filter { !last.contains($0) }
        let others = byClass.keys.filter { !known.contains($0) && !last.contains($0) }.sorted()
        return known + others + last.filter { byClass[$0] != nil }
    }

    /// The view as lines for a terminal `width` columns wide.
    func panel(width: Int) -> [String] {
        guard let counts = latest else {
            return ["flowd  \(endpoint)  waiting for the daemon's counts…"] + noteLines()
        }
        let f = counts.frames
        var lines = [
            "flowd  \(endpoint)  up \(Self.clock(counts.uptimeSeconds))" + (counts.final ? "  (stopped: final counts)" : ""),
            "frames  received \(f.received)  dropped \(f.dropped)  malformed \(f.malformed)  gaps \(f.gaps)"
                + (frameRate.map { String(format: "  %.1f frames/s", $0) } ?? ""),
            String(format: "cells   total %llu  %.1f cells/s", counts.cells.total, counts.cells.perSecond)
                + latencyText(),
        ]
        let labels = orderedLabels(counts.cells.byClass)
        let nameWidth = max(labels.map(\.count).max() ?? 0, 5)
        let barWidth = max(width - nameWidth - 22, 10)
        for label in labels {
            let n = counts.cells.byClass[label] ?? 0
            let share = counts.cells.total > 0 ? Double(n) / Double(counts.cells.total) : 0
            let name = label.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            lines.append("  \(name) " + String(format: "%8llu %5.1f %% ", n, share * 100) + Self.bar(share, width: barWidth))
        }
        if let cell = lastCell {
            let top = cell.probabilities[cell.label].map { String(format: " p %.2f", $0) } ?? ""
            let area = cell.features["area_um2"].map { String(format: ", %.0f µm²", $0) } ?? ""
            lines.append("last cell  #\(cell.cellID) \(cell.label)\(top)\(area), frames seen \(cell.framesSeen)")
        }
        if undecodable > 0, let last = lastUndecodable {
            lines.append("unreadable result messages: \(undecodable) (last: \(last))")
        }
        return lines.map { String($0.prefix(width)) } + noteLines().map { String($0.prefix(width)) }
    }

    /// The view as one line, for a log or a pipe.
    func line() -> String {
        guard let counts = latest else { return "flowd \(endpoint): waiting for the daemon's counts" }
        let f = counts.frames
        var line = String(format: "up %.1f s", counts.uptimeSeconds)
        line += " | frames \(f.received) received, \(f.dropped) dropped, \(f.malformed) malformed"
        if let frameRate { line += String(format: ", %.1f/s", frameRate) }
        line += String(format: " | cells %llu, %.1f/s", counts.cells.total, counts.cells.perSecond)
        let byClass = orderedLabels(counts.cells.byClass).map { label in
            let n = counts.cells.byClass[label] ?? 0
            let share = counts.cells.total > 0 ? Double(n) / Double(counts.cells.total) * 100 : 0
            return "\(label) " + String(format: "%llu (%.1f %%)", n, share)
        }
        if !byClass.isEmpty { line += ": " + byClass.joined(separator: ", ") }
        if undecodable > 0 { line += " | \(undecodable) unreadable messages" }
        if counts.final { line += " | final" }
        return line
    }

    private func latencyText() -> String {
        guard !latencies.isEmpty else { return "" }
        let sorted = latencies.sorted()
        return String(
            format: "  latency p50 %.1f ms, max %.1f ms (last %d)", sorted[sorted.count / 2], sorted.last!, sorted.count)
    }

    private func noteLines() -> [String] { notes.isEmpty ? [] : [""] + notes }

    /// A horizontal bar `share` of `width` columns long, in eighths of a column.
    static func bar(_ share: Double, width: Int) -> String {
        let eighths = Int((min(max(share, 0), 1) * Double(width * 8)).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
        return String(repeating: "█", count: eighths / 8) + partial
    }

    /// `seconds` as h:mm:ss.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}
