import Dispatch
import Foundation
import FlowdConfig
import FrameIngest
import Inference
import Logging
import Protocol
import Reconstruction
import Simulator
import Synchronization

@testable import FlowDaemon

/// A small digital twin feeding a ``CellPipeline`` in process (no sockets): 256² frames at
/// 0.25 µm, 3 mm/s at 200 fps (60 px per frame), about 0.6 cells arriving per frame.
struct PipelineHarness {
    var twin: DigitalTwin
    let counters = IngestCounters()
    /// What the pipeline published, in order.
    let published = Published()
    let pipeline: CellPipeline
    /// Ids of the true cells wholly in view in at least one frame sent: the cells to count.
    var truth = Set<Int>()
    /// Concurrent frame workers of ``run(frames:)``.
    let workers: Int

    static let camera = "twin"

    /// `reference`: use the twin's cell-free reference; otherwise the median of the first frames.
    /// `recorder`: records each published cell, as the daemon's publish callback does.
    init(
        seed: UInt64, model: Model? = nil, reference: Bool = false, workers: Int = 1, referenceFrames: Int = 15,
        maxViews: Int = PipelineSettings().maxViews, recorder: RunRecorder? = nil
    ) throws {
        var optics = RigOptics()
        optics.magnification = optics.cameraPixelUm / 0.25
        var flow = FlowConfiguration()
        flow.width = 256
        flow.height = 256
        flow.seed = seed
        flow.concentrationPerMicrolitre = 20000
        flow.velocityUmPerSecond = 3000
        twin = try DigitalTwin(flow: flow, optics: optics)
        self.workers = workers
        var settings = PipelineSettings()
        settings.pixelUm = optics.pixelUm
        settings.wavelengthNm = optics.wavelengthNm
        settings.velocityPixels = twin.pixelsPerFrame
        settings.gatePixels = 8 / optics.pixelUm
        settings.referenceFrames = referenceFrames
        settings.maxViews = maxViews
        let logger = Logger(label: "test")
        let published = published
        pipeline = try CellPipeline(
            settings: settings, model: model, reference: reference ? HologramImage(frame: twin.reference()) : nil,
            workers: workers, counters: counters, rejectLog: RateLimitedLog(logger: logger), logger: logger
        ) { message, view in
            published.messages.withLock { $0.append(message) }
            recorder?.record(message, crop: view.crop)
        }
    }

    /// The next twin frame as ingest would hand it to a worker.
    mutating func nextFrame() -> ReceivedFrame {
        received(nextTwinFrame())
    }

    /// The twin's next frame, its cells wholly in view added to ``truth``.
    mutating func nextTwinFrame() -> Frame {
        let (frame, frameTruth) = twin.nextFrame()
        truth.formUnion(frameTruth.cells.filter(\.fullyInside).map(\.id))
        return frame
    }

    /// `frame` counted as received from the twin's camera, with its place.
    func received(_ frame: Frame) -> ReceivedFrame {
        let place = counters.recordReceived(camera: Self.camera, seq: frame.header.seq, bytes: frame.pixels.count, at: 0)
        return ReceivedFrame(frame: frame, camera: Self.camera, arrivalNanoseconds: 0, place: place)
    }

    /// Runs `frames` twin frames through the frame workers (finishing out of order when there
    /// are several), then finishes; `during` runs on its own thread while the workers run.
    /// Frames for which `dropped` is true are counted as dropped (a full queue), as ingest would.
    mutating func run(frames: Int, during: (@Sendable () -> Void)? = nil, dropped: (Int) -> Bool = { _ in false }) {
        let queue = FrameQueue(capacity: frames)
        let pipeline = pipeline
        let frameWorkers = FrameWorkers(queue: queue, count: workers, idle: pipeline.idle) { pipeline.process($0, worker: $1) }
        for index in 0..<frames {
            let frame = nextTwinFrame()
            if dropped(index) {
                counters.admit(camera: Self.camera, seq: frame.header.seq, bytes: frame.pixels.count, at: 0) { _ in false }
            } else {
                _ = queue.offer(received(frame))
            }
        }
        frameWorkers.start()
        // A thread of its own: `during` may wait for the workers, which run on Dispatch's pool.
        let otherDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            during?()
            otherDone.signal()
        }
        queue.close()
        frameWorkers.waitUntilFinished()
        otherDone.wait()
        pipeline.finish()
    }

    var messages: [CellMessage] { published.messages.withLock { $0 } }

    final class Published: Sendable {
        let messages = Mutex<[CellMessage]>([])
    }
}
