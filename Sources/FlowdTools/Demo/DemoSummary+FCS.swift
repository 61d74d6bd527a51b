import Foundation

extension DemoSummary {
    /// With the run's FCS file, `<record dir>/<run id>/cells.fcs` as the daemon writes it, and
    /// its cells.rtdc beside it; if there is none (the daemon could not write it: its log says
    /// why) or several, a note says so.
    func withFCS(in recordDirectory: URL) -> DemoSummary {
        var summary = self
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: recordDirectory.path)) ?? []
        let files = runs.map { recordDirectory.appendingPathComponent($0).appendingPathComponent("cells.fcs").path }
            .filter { FileManager.default.fileExists(atPath: $0) }.sorted()
        if files.count == 1 {
            summary.fcsPath = files[0]
        } else {
            summary.fcsPath = files.last
            summary.fcsNote = files.isEmpty
                ? "no cells.fcs under \(recordDirectory.path)" : "\(files.count) runs under \(recordDirectory.path)"
        }
        summary.rtdcPath = summary.fcsPath.map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("cells.rtdc").path }
            .flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        return summary
    }
}
