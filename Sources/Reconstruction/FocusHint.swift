/// Where a cell is expected in a frame and the focus distance it had in an earlier one: cells
/// keep their depth in laminar flow, so a tracked cell's focus is known to within a µm or two
/// and its search can start there (``CellRefocuser``).
public struct FocusHint: Sendable, Equatable {
    /// Expected centroid, hologram pixels.
    public var x: Double
    public var y: Double
    /// The focus distance found in the earlier frame, µm.
    public var focusUm: Double

    public init(x: Double, y: Double, focusUm: Double) {
        (self.x, self.y, self.focusUm) = (x, y, focusUm)
    }
}
