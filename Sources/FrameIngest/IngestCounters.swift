import Protocol
import Synchronization

/// Per-camera frame accounting, shared by the receive threads and the `counts` publisher.
///
/// A camera id is whatever the frames call themselves (`camera`, else imagezmq's `msg`), else
/// the input's endpoint. At most ``maxCameras`` ids are tracked, first come first served; a
/// further id is an *unknown camera*: its messages are counted under ``overflowCamera`` and its
/// valid frames are refused as malformed (`unknown_camera`), so a sender inventing ids can
/// neither grow memory without bound nor mix its frames into another camera's reference and
/// tracks.
public final class IngestCounters: Sendable {
    public static let overflowCamera = "other"

    private struct CameraState {
        var counters = CameraCounters()
        var lastSeq: UInt64?
        var lastArrivalNanoseconds: UInt64?
        /// Frames received so far, never decremented (a rejected frame keeps its ordinal).
        var nextOrdinal: UInt64 = 0
        /// The next frame's place in the camera's flow (``FramePlace/flowFrame``).
        var nextFlowFrame: UInt64 = 0

        mutating func countMalformed(_ reason: String, at now: UInt64) {
            counters.frames.malformed += 1
            counters.malformedByReason[reason, default: 0] += 1
            lastArrivalNanoseconds = now
        }
    }

    private let cameras = Mutex<[String: CameraState]>([:])
    public let maxCameras: Int

    public init(maxCameras: Int = 64) {
        self.maxCameras = maxCameras
    }

    /// A valid frame that was queued for processing; returns its place (see ``admit``).
    @discardableResult
    public func recordReceived(camera: String, seq: UInt64?, bytes: Int, at now: UInt64) -> FramePlace {
        var place = FramePlace(ordinal: 0, flowFrame: 0)
        admit(camera: camera, seq: seq, bytes: bytes, at: now) { place = $0; return true }
        return place
    }

    /// Offers a valid frame to `enqueue` with its ``FramePlace``: the camera's next ordinal (the
    /// number of frames received from it before) and its frame of the flow (every earlier valid
    /// frame, dropped or not, and the frames its `seq` skips over), and counts it as received if
    /// `enqueue` took it, else as dropped: a dropped frame advances the flow, not the ordinals.
    ///
    /// Both happen under the counters' lock, so ordinals are handed out without holes even when
    /// two inputs deliver frames of the same camera id: the pipeline's reorder buffer waits for
    /// every ordinal, and a hole would stall that camera. `enqueue` must not block (the queue's
    /// `offer` does not).
    /// - Returns: `false` when `camera` is unknown (beyond ``maxCameras``): the frame was not
    ///   offered, and is counted as malformed (`unknown_camera`) under ``overflowCamera``.
    @discardableResult
    public func admit(
        camera: String, seq: UInt64?, bytes: Int, at now: UInt64, enqueue: (FramePlace) -> Bool
    ) -> Bool {
        cameras.withLock { states in
            guard states[camera] != nil || states.count < maxCameras else {
                states[Self.overflowCamera, default: CameraState()].countMalformed(
                    FrameDecodingError.Reason.unknownCamera.rawValue, at: now)
                return false
            }
            var state = states[camera] ?? CameraState()
            let skipped = min(Self.trackSequence(seq, &state), Self.largestFlowGap)
            let place = FramePlace(ordinal: state.nextOrdinal, flowFrame: state.nextFlowFrame + skipped)
            state.nextFlowFrame = place.flowFrame + 1
            if enqueue(place) {
                state.nextOrdinal += 1
                state.counters.frames.received += 1
                state.counters.bytes += UInt64(bytes)
            } else {
                state.counters.frames.dropped += 1
            }
            state.lastArrivalNanoseconds = now
            states[camera] = state
            return true
        }
    }

    /// A received frame that the pipeline could not process, under `reason` (a snake_case
    /// code, see ``CameraCounters/rejectedByReason``). It stays counted as received: ingest
    /// delivered it; the pipeline accounts for what became of it.
    /// Not an arrival: the camera's time since its last frame is left alone.
    /// `count`: frames at once (an aggregator giving up a run of missing `seq`s).
    public func recordRejected(camera: String, reason: String, count: UInt64 = 1) {
        cameras.withLock { states in
            let id = states[camera] != nil || states.count < maxCameras ? camera : Self.overflowCamera
            states[id, default: CameraState()].counters.rejectedByReason[reason, default: 0] += count
        }
    }

    /// A message that failed validation.
    public func recordMalformed(camera: String, reason: FrameDecodingError.Reason, at now: UInt64) {
        recordMalformed(camera: camera, reasonCode: reason.rawValue, at: now)
    }

    /// A message that failed validation, under a reason code of another message kind than a
    /// frame (an aggregator's detections, docs/protocol.md).
    public func recordMalformed(camera: String, reasonCode: String, at now: UInt64) {
        update(camera, now) { $0.countMalformed(reasonCode, at: now) }
    }

    /// The id the counters of `camera` are kept under (``overflowCamera`` past ``maxCameras``).
    public func trackedID(for camera: String) -> String {
        cameras.withLock { $0[camera] != nil || $0.count < maxCameras ? camera : Self.overflowCamera }
    }

    /// The counters as they are now, with the time since each camera's last message.
    public func snapshot(at now: UInt64) -> [String: CameraCounters] {
        cameras.withLock { states in
            states.mapValues { state in
                var counters = state.counters
                counters.secondsSinceLastFrame = state.lastArrivalNanoseconds.map {
                    Double(now &- $0) / 1e9
                }
                return counters
            }
        }
    }

    /// Forgets all counts (a new run starts).
    public func reset() {
        cameras.withLock { $0.removeAll() }
    }

    private func update(_ camera: String, _ now: UInt64, _ body: (inout CameraState) -> Void) {
        cameras.withLock { states in
            let id = states[camera] != nil || states.count < maxCameras ? camera : Self.overflowCamera
            body(&states[id, default: CameraState()])
            states[id]!.lastArrivalNanoseconds = now
        }
    }

    /// A jump from seq 7 to seq 10 means frames 8 and 9 never arrived: 2 gaps. A seq that does
    /// not increase means the camera restarted its counter; counting resumes from there.
    /// Counts the frames `seq` skips over since the camera's previous one (0 without a `seq`, at
    /// the first, or when it went back: a camera that restarted) and returns them.
    @discardableResult
    private static func trackSequence(_ seq: UInt64?, _ state: inout CameraState) -> UInt64 {
        guard let seq else { return 0 }
        var skipped: UInt64 = 0
        if let last = state.lastSeq, seq > last &+ 1, last != .max {
            skipped = seq - last - 1
            state.counters.frames.gaps += skipped
        }
        state.lastSeq = seq
        return skipped
    }

    /// The most frames of the flow one `seq` jump advances it by: any gap longer than every
    /// track's life ends them all alike, and a bounded step keeps the flow's count far from
    /// overflowing whatever a camera sends as `seq`.
    static let largestFlowGap: UInt64 = 1 << 20
}
