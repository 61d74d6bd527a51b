import Dispatch
import FrameIngest
import Synchronization

/// Workers that take frames off the ingest queue and process them, one per core by default.
///
/// Each worker is a long-running loop on its own Dispatch work item with its own index, so it
/// can own per-worker state (FFTW plans, inference contexts) without locks.
final class FrameWorkers: Sendable {
    typealias Handler = @Sendable (_ frame: ReceivedFrame, _ worker: Int) -> Void

    private let queue: FrameQueue
    private let count: Int
    private let handler: Handler
    private let done = DispatchGroup()
    /// Frames fully processed; the watchdog checks that it advances while frames are queued.
    let processed = Atomic<UInt64>(0)

    init(queue: FrameQueue, count: Int, handler: @escaping Handler) {
        self.queue = queue
        self.count = count
        self.handler = handler
    }

    func start() {
        for worker in 0..<count {
            DispatchQueue.global(qos: .userInitiated).async(group: done) { [self] in
                // `take` returns nil on timeout too; the loop ends once the queue is closed and empty.
                while !queue.isFinished {
                    guard let frame = queue.take(timeout: 0.1) else { continue }
                    handler(frame, worker)
                    processed.add(1, ordering: .relaxed)
                }
            }
        }
    }

    /// Waits until the closed queue is drained and every worker returned.
    func waitUntilFinished() {
        done.wait()
    }
}
