import Dispatch
import FrameIngest
import Logging
import Synchronization
import ZeroMQ

/// A worker's way to its aggregator (`role: worker`): each frame's detections
/// (``DetectionMessage``) on one PUSH socket connected to `scale_out.aggregator`.
///
/// Frame workers call ``send(_:_:rejection:)`` concurrently; libzmq sockets are not
/// thread-safe, so the send (not the encoding) is serialised by a lock. It never waits: when
/// libzmq's queue for the aggregator is full (the aggregator is away or slower than the
/// workers; `ingest.receive_hwm` messages), the frame is counted as rejected
/// (`aggregator_unreachable`) and the aggregator, missing its `seq`, counts it lost too; the
/// worker keeps taking frames, so the camera is never held up by the aggregator.
final class DetectionSender: Sendable {
    private let socket: Mutex<ZMQSocket>
    private let counters: IngestCounters
    private let log: RateLimitedLog
    let endpoint: String

    /// Connects (libzmq connects in the background: an aggregator that starts later is found).
    /// - Parameter linger: how long, ms, the stopping worker may spend delivering its last
    ///   detections (`publish.linger_ms`).
    init(
        context: ZMQContext, endpoint: String, highWaterMark: Int32, linger: Int32, counters: IngestCounters,
        log: RateLimitedLog
    ) throws(ZMQError) {
        let socket = try ZMQSocket(context: context, kind: .push, linger: linger)
        try socket.setSendHighWaterMark(highWaterMark)
        try socket.connect(endpoint)
        self.socket = Mutex(socket)
        self.counters = counters
        self.log = log
        self.endpoint = endpoint
    }

    /// Sends one frame's result (``CellPipeline/ForwardFrame``).
    func send(_ frame: ReceivedFrame, _ result: FrameResult, rejection: RejectionReason?) {
        guard let seq = frame.frame.header.seq else { return }  // counted `missing_seq` by the pipeline
        let parts = DetectionMessage(
            camera: frame.camera, seq: seq, tNanoseconds: frame.frame.header.timeNanoseconds,
            rows: frame.frame.header.rows, cols: frame.frame.header.cols,
            heldNanoseconds: DispatchTime.now().uptimeNanoseconds &- frame.arrivalNanoseconds,
            rejection: rejection?.rawValue, backgroundRmsNm: result.backgroundRmsNm, objects: result.cells ?? []
        ).encoded()
        let sent = socket.withLock { socket in
            Result { () throws(ZMQError) in try socket.send(parts, wait: false) }
        }
        if case .failure(let error) = sent {
            let reason = RejectionReason.aggregatorUnreachable.rawValue
            counters.recordRejected(camera: frame.camera, reason: reason)
            log.warning(
                key: "\(frame.camera)/\(reason)",
                "frame seq \(seq) of \(frame.camera) not handed to the aggregator at \(endpoint): \(reason): \(error)",
                at: DispatchTime.now().uptimeNanoseconds)
        }
    }

    /// Tells the aggregator that `frame` was dropped at this worker's full queue (it is counted
    /// there as `dropped`): a detection without objects, rejected `queue_full`.
    func sendDropped(_ frame: ReceivedFrame) {
        let result = FrameResult(
            ordinal: frame.ordinal, flowFrame: frame.place.flowFrame, cells: nil, seq: frame.frame.header.seq,
            tNanoseconds: frame.frame.header.timeNanoseconds, arrivalNanoseconds: frame.arrivalNanoseconds)
        send(frame, result, rejection: .queueFull)
    }

    func close() {
        socket.withLock { $0.close() }
    }
}
