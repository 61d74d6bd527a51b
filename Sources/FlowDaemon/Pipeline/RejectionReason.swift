/// Why the pipeline could not process a received frame: the key under which the camera's
/// `rejected_by_reason` counter in `counts` counts it (docs/protocol.md).
enum RejectionReason: String, Sendable, CaseIterable {
    /// The frame's size differs from the camera's reference hologram.
    case shapeChanged = "shape_changed"
    /// No reference could be made from the frames held for it (too small, no fringes,
    /// non-finite pixels): they are rejected and the camera's next frames start a new one.
    case noReference = "no_reference"
}
