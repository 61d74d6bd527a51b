import Foundation

/// A run's name, which is also its directory's: the UTC start time to the second, then the
/// millisecond, e.g. `20261127T043000Z-042`. Names sort in start order, as text and as
/// directory listings; when a name is taken (two runs in the same millisecond), the next
/// millisecond's is tried (``RunRecord/create(in:layout:metadata:maxCameras:startedAt:)``).
struct RunID: Sendable, Equatable, CustomStringConvertible {
    let description: String

    /// The name for a run started at `date`, `bump` milliseconds later when earlier names are taken.
    init(startedAt date: Date, bump: Int = 0) {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) + bump
        let seconds = Date(timeIntervalSince1970: Double(milliseconds / 1000))
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: seconds)
        description = String(
            format: "%04d%02d%02dT%02d%02d%02dZ-%03d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!,
            milliseconds % 1000)
    }
}
