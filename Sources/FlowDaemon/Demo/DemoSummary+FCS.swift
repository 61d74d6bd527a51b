import Foundation

extension DemoSummary {
    /// With the run's FCS file: `<record dir>/<run id>/cells.fcs`, written by the daemon when it
    /// has the record.dir setting; otherwise none, and a note saying why.
    func withFCS(in recordDirectory: URL, recording: Bool) -> DemoSummary {
        var summary = self
        guard recording else {
            summary.fcsNote = "this flowd has no record.dir setting (FCS recording is not built in)"
            return summary
        }
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
        return summary
    }
}
