import Dispatch
import Logging
import Protocol
import Synchronization
import SystemSupport
import ZeroMQ

/// Receives frames from one input on a dedicated thread (a ``BackgroundThread``, as it spends its
/// life blocked in `zmq_msg_recv`): decode, validate, count, enqueue.
final class FrameReceiver: Sendable {
    let spec: InputSpec
    private let socket: ZMQSocket
    private let settings: IngestSettings
    private let queue: FrameQueue
    private let counters: IngestCounters
    private let malformedLog: RateLimitedLog
    private let logger: Logger
    private let thread: BackgroundThread
    /// See ``FrameIngest/init(inputs:settings:context:malformedLog:logger:curve:counters:dropped:)``.
    private let dropped: (@Sendable (ReceivedFrame) -> Void)?
    /// Monotonic ns of the loop's last turn; the watchdog's evidence that the thread is alive.
    private let heartbeat = Atomic<UInt64>(0)

    /// How long one receive waits before the loop looks at the stop flag again, ms.
    static let pollMilliseconds: Int32 = 100

    /// Creates the socket and binds or connects it, so that a bad endpoint fails at start-up.
    init(
        spec: InputSpec, context: ZMQContext, settings: IngestSettings, curve: CurveKeyPair?, queue: FrameQueue,
        counters: IngestCounters, malformedLog: RateLimitedLog, logger: Logger,
        dropped: (@Sendable (ReceivedFrame) -> Void)? = nil
    ) throws(ZMQError) {
        self.spec = spec
        self.dropped = dropped
        self.settings = settings
        self.queue = queue
        self.counters = counters
        self.malformedLog = malformedLog
        self.logger = logger
        thread = BackgroundThread(name: "flowd-recv \(spec)")
        let kind: ZMQSocket.Kind =
            switch spec.mode {
            case .sub: .sub
            case .pull: .pull
            case .rep: .rep
            }
        socket = try ZMQSocket(context: context, kind: kind)
        try socket.setReceiveHighWaterMark(settings.receiveHighWaterMark)
        try socket.setMaxMessageSize(Int64(settings.limits.maxMessagePartBytes))
        try socket.setReceiveTimeout(milliseconds: Self.pollMilliseconds)
        if spec.mode == .sub { try socket.subscribe() }
        if let curve { try socket.makeCurveServer(keys: curve, domain: FrameIngest.curveDomain) }
        if spec.binds { try socket.bind(spec.endpoint) } else { try socket.connect(spec.endpoint) }
    }

    func start() {
        heartbeat.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        thread.start { [self] in run() }
    }

    /// Stops receiving, reads what libzmq already holds (up to `drainSeconds`), closes the
    /// socket, and returns once the thread has ended (or closes it here if it never started).
    func stop() {
        if !thread.stop() { socket.close() }
    }

    /// Whether the receive loop turned within the last `seconds`.
    func isAlive(within seconds: Double, now: UInt64) -> Bool {
        now &- heartbeat.load(ordering: .relaxed) < UInt64(seconds * 1e9)
    }

    private func run() {
        let parts = [ZMQMessage(), ZMQMessage()]
        var drainDeadline: UInt64?
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            heartbeat.store(now, ordering: .relaxed)
            if drainDeadline == nil, thread.isStopping {
                // Frames already inside libzmq were sent and must be accounted for; drain them
                // briefly without waiting for new ones.
                drainDeadline = now + 200_000_000
                try? socket.setReceiveTimeout(milliseconds: 0)
            }
            if let drainDeadline, now > drainDeadline { break }
            let partCount: Int
            do {
                partCount = try socket.receive(into: parts)
            } catch {
                if error.isTimeout {
                    if drainDeadline != nil { break }
                    continue
                }
                if error.isTerminated { break }
                logger.error("receive on \(spec) failed: \(error)")
                continue
            }
            handle(parts: parts, partCount: partCount)
            if spec.mode == .rep {
                // imagezmq's REQ sender waits for this reply before its next frame; it gets
                // one for every message, valid or not, so a bad frame never wedges a camera.
                do { try socket.send([Array("OK".utf8)]) } catch {
                    logger.error("reply on \(spec) failed: \(error)")
                }
            }
        }
        socket.close()
    }

    private func handle(parts: [ZMQMessage], partCount: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        let frame: Frame
        do throws(FrameDecodingError) {
            guard partCount == 2 else {
                throw FrameDecodingError(
                    .wrongPartCount,
                    "message has \(partCount) part(s); a frame is exactly 2: [JSON header, pixel buffer]")
            }
            frame = try Frame(parts: parts.map(\.bytes), limits: settings.limits)
        } catch {
            let camera = counters.trackedID(for: error.camera ?? spec.endpoint)
            counters.recordMalformed(camera: camera, reason: error.reason, at: now)
            malformedLog.warning(
                key: "\(camera)/\(error.reason.rawValue)",
                "malformed frame from \(camera) on \(spec): \(error)", at: now)
            return
        }
        let camera = frame.header.camera ?? spec.endpoint
        var refused: ReceivedFrame?
        let known = counters.admit(camera: camera, seq: frame.header.seq, bytes: frame.pixels.count, at: now) { place in
            let received = ReceivedFrame(frame: frame, camera: camera, arrivalNanoseconds: now, place: place)
            if queue.offer(received) { return true }
            refused = received
            return false
        }
        // Outside the counters' lock.
        if let refused, let dropped { dropped(refused) }
        if !known {
            let reason = FrameDecodingError.Reason.unknownCamera.rawValue
            let other = IngestCounters.overflowCamera
            let message = "malformed frame from \(camera) on \(spec): \(reason): the daemon already tracks "
                + "ingest.max_cameras = \(counters.maxCameras) cameras; frames of further camera ids are counted "
                + "under \"\(other)\" and not processed"
            malformedLog.warning(key: "\(other)/\(reason)", "\(message)", at: now)
        }
    }
}
