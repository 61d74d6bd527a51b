import Foundation

/// Frame accounting of one camera or of all cameras together.
///
/// Every frame that reaches a socket ends in exactly one of `received` (decoded and queued for
/// processing), `malformed` (rejected by validation) or `dropped` (valid, but the queue was full),
/// so `received + malformed + dropped` is the number of messages the senders delivered.
public struct FrameCounters: Sendable, Equatable, Codable {
    public var received: UInt64 = 0
    public var malformed: UInt64 = 0
    public var dropped: UInt64 = 0
    /// Frames missing from the camera's `seq` sequence (a jump from 7 to 10 counts 2).
    public var gaps: UInt64 = 0

    public init(received: UInt64 = 0, malformed: UInt64 = 0, dropped: UInt64 = 0, gaps: UInt64 = 0) {
        self.received = received
        self.malformed = malformed
        self.dropped = dropped
        self.gaps = gaps
    }

    public static func + (a: FrameCounters, b: FrameCounters) -> FrameCounters {
        FrameCounters(
            received: a.received + b.received, malformed: a.malformed + b.malformed,
            dropped: a.dropped + b.dropped, gaps: a.gaps + b.gaps)
    }
}

/// Counters of one camera stream, as published under `cameras.<id>` in `counts`.
public struct CameraCounters: Sendable, Equatable, Codable {
    public var frames: FrameCounters
    /// Malformed messages by ``FrameDecodingError/Reason`` code.
    public var malformedByReason: [String: UInt64]
    /// Received frames the pipeline could not process, by reason: `shape_changed` (the frame's
    /// size differs from the camera's reference hologram) or `no_reference` (no reference
    /// hologram could be made from the camera's first frames). Every other received frame was
    /// processed.
    public var rejectedByReason: [String: UInt64]
    /// Pixel bytes received.
    public var bytes: UInt64
    /// Seconds since this camera's last message; `nil` before the first. A large value means a
    /// stale stream (camera stopped or disconnected).
    public var secondsSinceLastFrame: Double?

    public init(
        frames: FrameCounters = .init(), malformedByReason: [String: UInt64] = [:],
        rejectedByReason: [String: UInt64] = [:], bytes: UInt64 = 0, secondsSinceLastFrame: Double? = nil
    ) {
        self.frames = frames
        self.malformedByReason = malformedByReason
        self.rejectedByReason = rejectedByReason
        self.bytes = bytes
        self.secondsSinceLastFrame = secondsSinceLastFrame
    }

    enum CodingKeys: String, CodingKey {
        case received, malformed, dropped, gaps
        case malformedByReason = "malformed_by_reason"
        case rejectedByReason = "rejected_by_reason"
        case bytes
        case secondsSinceLastFrame = "seconds_since_last_frame"
    }

    // Flattened: `{"received": n, …, "malformed_by_reason": {…}}`, as docs/protocol.md shows.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frames = FrameCounters(
            received: try c.decode(UInt64.self, forKey: .received),
            malformed: try c.decode(UInt64.self, forKey: .malformed),
            dropped: try c.decode(UInt64.self, forKey: .dropped),
            gaps: try c.decode(UInt64.self, forKey: .gaps))
        malformedByReason = try c.decode([String: UInt64].self, forKey: .malformedByReason)
        rejectedByReason = try c.decodeIfPresent([String: UInt64].self, forKey: .rejectedByReason) ?? [:]
        bytes = try c.decode(UInt64.self, forKey: .bytes)
        secondsSinceLastFrame = try c.decodeIfPresent(Double.self, forKey: .secondsSinceLastFrame)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frames.received, forKey: .received)
        try c.encode(frames.malformed, forKey: .malformed)
        try c.encode(frames.dropped, forKey: .dropped)
        try c.encode(frames.gaps, forKey: .gaps)
        try c.encode(malformedByReason, forKey: .malformedByReason)
        try c.encode(rejectedByReason, forKey: .rejectedByReason)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(secondsSinceLastFrame, forKey: .secondsSinceLastFrame)
    }
}

/// The `counts` message, version 1 (docs/protocol.md).
public struct CountsMessage: Sendable, Equatable, Codable {
    public var v: Int = 1
    /// Seconds since the daemon started.
    public var uptimeSeconds: Double
    /// Totals over all cameras.
    public var frames: FrameCounters
    /// Per camera id.
    public var cameras: [String: CameraCounters]
    /// `true` on the last message before the daemon exits.
    public var final: Bool
    /// Cells counted (added to v1 without changing its other fields).
    public var cells: CellCounts

    public init(
        uptimeSeconds: Double, cameras: [String: CameraCounters], cells: CellCounts = CellCounts(), final: Bool = false
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.cameras = cameras
        self.frames = cameras.values.reduce(FrameCounters()) { $0 + $1.frames }
        self.cells = cells
        self.final = final
    }

    enum CodingKeys: String, CodingKey {
        case v
        case uptimeSeconds = "uptime_s"
        case frames, cameras, final, cells
    }

    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Only integers, finite doubles and strings (`perSecond` is a finite rate): encoding
        // cannot fail.
        return Array(try! encoder.encode(self))
    }
}
