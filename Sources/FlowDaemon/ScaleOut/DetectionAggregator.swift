import Dispatch
import FrameIngest
import Logging
import Protocol
import Synchronization
import SystemSupport
import ZeroMQ

/// The aggregator's receive side (`role: aggregator`): the workers' detections on one PULL
/// socket bound at `scale_out.listen`, decoded and validated (``DetectionMessage``), put back in
/// each camera's `seq` order (``SequenceReorder``), and handed to the ``CellPipeline`` that
/// tracks, classifies, counts, records and publishes, all on this one thread.
///
/// Accounting, per camera, in `counts` (docs/protocol.md): a frame a worker returned is
/// `received` in order (`gaps` counts the `seq`s missing between them); one the worker could
/// not process is also under its reason in `rejected_by_reason`; one no worker returned within
/// `scale_out.reorder_timeout_s` is `rejected_by_reason.not_returned`, and if it comes after
/// all, `late`. A message that is not a valid detection is `malformed` under its reason; a
/// detection for a camera this aggregator does not take is `malformed.unknown_camera` under
/// `other`. Each is logged, rate-limited, and none stops the aggregator.
final class DetectionAggregator: Sendable {
    private struct Arrival {
        var message: DetectionMessage
        var arrival: UInt64
        var bytes: Int
    }

    let endpoint: String
    private let socket: ZMQSocket
    private let pipeline: CellPipeline
    private let counters: IngestCounters
    private let limits: FrameLimits
    private let allowed: Set<String>
    private let timeoutNanoseconds: UInt64
    private let log: RateLimitedLog
    private let logger: Logger
    private let thread = BackgroundThread(name: "flowd-aggregate")
    /// Per camera, its frames waiting for an earlier `seq`; touched by the receive thread only
    /// (and by ``stop()`` once it has ended).
    private let reorders = Mutex<[String: SequenceReorder<Arrival>]>([:])

    /// Binds, so that an endpoint in use fails at start-up.
    /// - Parameters:
    ///   - cameras: the camera ids taken (`scale_out.cameras`); empty: any, up to
    ///     `counters.maxCameras`.
    init(
        context: ZMQContext, endpoint: String, cameras: [String], reorderTimeoutSeconds: Double, ingest: IngestSettings,
        pipeline: CellPipeline, counters: IngestCounters, log: RateLimitedLog, logger: Logger
    ) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .pull)
        try socket.setReceiveHighWaterMark(ingest.receiveHighWaterMark)
        try socket.setReceiveTimeout(milliseconds: 100)
        try socket.bind(endpoint)
        self.endpoint = endpoint
        self.pipeline = pipeline
        self.counters = counters
        limits = ingest.limits
        allowed = Set(cameras)
        timeoutNanoseconds = UInt64(reorderTimeoutSeconds * 1e9)
        self.log = log
        self.logger = logger
    }

    func start() {
        thread.start { [self] in run() }
    }

    /// Stops receiving once what libzmq holds is read (up to 200 ms), then releases every
    /// camera's waiting frames in order, the missing ones given up (`not_returned`).
    func stop() {
        if !thread.stop() { socket.close() }
        let drained = reorders.withLock { reorders in
            reorders.keys.sorted().map { camera in (camera, reorders[camera]!.drain()) }
        }
        for (camera, released) in drained { handle(released, camera: camera) }
    }

    private func run() {
        let parts = [ZMQMessage(), ZMQMessage()]
        var drainDeadline: UInt64?
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            if drainDeadline == nil, thread.isStopping {
                drainDeadline = now + 200_000_000
                try? socket.setReceiveTimeout(milliseconds: 0)
            }
            if let drainDeadline, now > drainDeadline { break }
            do {
                let count = try socket.receive(into: parts)
                accept(parts.prefix(count).map(\.bytes), at: DispatchTime.now().uptimeNanoseconds)
            } catch {
                if error.isTerminated { break }
                if error.isTimeout, drainDeadline != nil { break }
                if !error.isTimeout { logger.error("receive on \(endpoint) failed: \(error)") }
            }
            expire(at: DispatchTime.now().uptimeNanoseconds)
        }
        socket.close()
    }

    /// One message from a worker.
    private func accept(_ parts: [UnsafeRawBufferPointer], at now: UInt64) {
        let message: DetectionMessage
        do throws(DetectionDecodingError) {
            message = try DetectionMessage(parts: parts, limits: limits)
        } catch {
            let camera = error.camera.map { takes($0) ? $0 : IngestCounters.overflowCamera } ?? IngestCounters.overflowCamera
            counters.recordMalformed(camera: camera, reasonCode: error.reason.rawValue, at: now)
            log.warning(key: "\(camera)/\(error.reason.rawValue)", "malformed detection message on \(endpoint): \(error)", at: now)
            return
        }
        guard takes(message.camera) else {
            let reason = FrameDecodingError.Reason.unknownCamera.rawValue
            counters.recordMalformed(camera: IngestCounters.overflowCamera, reasonCode: reason, at: now)
            let taken = allowed.isEmpty ? "the first \(counters.maxCameras) (ingest.max_cameras)" : allowed.sorted().joined(separator: ", ")
            log.warning(
                key: "\(IngestCounters.overflowCamera)/\(reason)",
                "detection for camera \(message.camera) on \(endpoint): \(reason): this aggregator takes \(taken)",
                at: now)
            return
        }
        let arrival = Arrival(message: message, arrival: now, bytes: parts.reduce(0) { $0 + $1.count })
        let released = reorders.withLock { reorders in
            reorders[message.camera, default: SequenceReorder(timeoutNanoseconds: timeoutNanoseconds)]
                .insert(arrival, seq: message.seq, at: now)
        }
        handle(released, camera: message.camera)
    }

    /// Whether this aggregator takes `camera`: one of `scale_out.cameras`, or, with none
    /// listed, one already seen or a new one within `ingest.max_cameras`.
    private func takes(_ camera: String) -> Bool {
        guard allowed.isEmpty else { return allowed.contains(camera) }
        return reorders.withLock { $0[camera] != nil || $0.count < counters.maxCameras }
    }

    private func expire(at now: UInt64) {
        let expired = reorders.withLock { reorders in
            reorders.keys.sorted().map { camera in (camera, reorders[camera]!.expire(at: now)) }
        }
        for (camera, released) in expired where !released.isEmpty { handle(released, camera: camera) }
    }

    private func handle(_ released: [SequenceReorder<Arrival>.Release], camera: String) {
        for release in released {
            let now = DispatchTime.now().uptimeNanoseconds
            switch release {
            case .frame(let ordinal, let seq, let arrival):
                let message = arrival.message
                counters.recordReceived(camera: camera, seq: seq, bytes: arrival.bytes, at: arrival.arrival)
                if let reason = message.rejection { counters.recordRejected(camera: camera, reason: reason) }
                // The frame "arrived" when the worker got it: the worker's hold is part of the latency.
                let result = FrameResult(
                    ordinal: ordinal, flowFrame: ordinal, cells: message.rejection == nil ? message.objects : nil, seq: seq,
                    tNanoseconds: message.tNanoseconds, backgroundRmsNm: message.backgroundRmsNm,
                    arrivalNanoseconds: arrival.arrival &- message.heldNanoseconds)
                pipeline.deliver(result, camera: camera, field: [Double(message.cols), Double(message.rows)])
            case .lost(let seqs, let count):
                let reason = RejectionReason.notReturned.rawValue
                counters.recordRejected(camera: camera, reason: reason, count: count)
                log.warning(
                    key: "\(camera)/\(reason)",
                    "camera \(camera): \(count) frame(s), seq \(seqs.lowerBound)…\(seqs.upperBound - 1), given up: \(reason): no worker returned them within scale_out.reorder_timeout_s",
                    at: now)
            case .late(let seq):
                let reason = RejectionReason.late.rawValue
                counters.recordRejected(camera: camera, reason: reason)
                log.warning(key: "\(camera)/\(reason)", "camera \(camera): frame seq \(seq) arrived after it was given up: \(reason)", at: now)
            case .duplicate(let seq):
                let reason = "duplicate_seq"
                counters.recordMalformed(camera: camera, reasonCode: reason, at: now)
                log.warning(
                    key: "\(camera)/\(reason)", "camera \(camera): a second detection message for seq \(seq), dropped: \(reason)",
                    at: now)
            }
        }
    }
}
