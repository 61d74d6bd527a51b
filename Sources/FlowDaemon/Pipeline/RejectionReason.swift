/// Why the pipeline could not process a received frame: the key under which the camera's
/// `rejected_by_reason` counter in `counts` counts it (docs/protocol.md).
enum RejectionReason: String, Sendable, CaseIterable {
    /// The frame's size differs from the camera's reference hologram.
    case shapeChanged = "shape_changed"
    /// No reference could be made from the frames held for it (too small, no fringes,
    /// non-finite pixels): they are rejected and the camera's next frames start a new one.
    case noReference = "no_reference"
    /// A worker (`role: worker`) got a frame without `seq`: the aggregator could not put it
    /// in order.
    case missingSeq = "missing_seq"
    /// A worker could not hand the frame's detections to the aggregator (its send queue was
    /// full: the aggregator is away or too slow).
    case aggregatorUnreachable = "aggregator_unreachable"
    /// A worker's ingest queue was full: it dropped the frame (counted there as `dropped`) and
    /// told the aggregator at once, so that the camera's later frames do not wait
    /// `scale_out.reorder_timeout_s` for it.
    case queueFull = "queue_full"
    /// The aggregator gave the frame up: no worker returned it within
    /// `scale_out.reorder_timeout_s` (a worker died, or its message was lost).
    case notReturned = "not_returned"
    /// The aggregator got the frame after giving it up (``notReturned``), and dropped it.
    case late = "late"
}
