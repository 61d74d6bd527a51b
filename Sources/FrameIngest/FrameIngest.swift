import Dispatch
import Logging
import Protocol
import ZeroMQ

/// The receive side of flowd: one ``FrameReceiver`` thread per input, all feeding one bounded
/// ``FrameQueue`` that the workers drain, with per-camera ``IngestCounters``.
public final class FrameIngest: Sendable {
    public let queue: FrameQueue
    public let counters: IngestCounters
    private let receivers: [FrameReceiver]

    /// The ZAP domain of the inputs when CurveZMQ is on: the allow-list of camera keys.
    public static let curveDomain = "cameras"

    /// Creates every socket and binds or connects it; throws on the first endpoint that fails,
    /// naming it, before any thread starts.
    /// - Parameters:
    ///   - malformedLog: where malformed messages are reported, rate-limited.
    ///   - curve: flowd's key pair, to be the CurveZMQ server on every input (``curveDomain``).
    ///   - counters: the per-camera counters to keep (by default new ones, for
    ///     `settings.maxCameras`): made first by a caller whose other parts count into them too.
    ///   - dropped: called on the receive thread with each frame the full queue refused, once it
    ///     is counted as dropped (a worker tells its aggregator, which then need not wait for it).
    public init(
        inputs: [InputSpec], settings: IngestSettings, context: ZMQContext, malformedLog: RateLimitedLog,
        logger: Logger, curve: CurveKeyPair? = nil, counters: IngestCounters? = nil,
        dropped: (@Sendable (ReceivedFrame) -> Void)? = nil
    ) throws(ZMQError) {
        queue = FrameQueue(capacity: settings.queueCapacity)
        let counters = counters ?? IngestCounters(maxCameras: settings.maxCameras)
        self.counters = counters
        var receivers: [FrameReceiver] = []
        for spec in inputs {
            receivers.append(
                try FrameReceiver(
                    spec: spec, context: context, settings: settings, curve: curve, queue: queue, counters: counters,
                    malformedLog: malformedLog, logger: logger, dropped: dropped))
        }
        self.receivers = receivers
    }

    public var inputs: [InputSpec] { receivers.map(\.spec) }

    public func start() {
        for receiver in receivers { receiver.start() }
    }

    /// Stops every receiver after it drained what libzmq holds, then closes the queue: workers
    /// finish what is queued and see the end.
    public func stop() {
        for receiver in receivers { receiver.stop() }
        queue.close()
    }

    /// Every receive thread turned within the last `seconds` (they turn at least every 100 ms).
    public func receiversAlive(within seconds: Double = 2) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        return receivers.allSatisfy { $0.isAlive(within: seconds, now: now) }
    }
}
