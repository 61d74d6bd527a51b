import Dispatch
import FrameIngest
import Synchronization

/// Workers that take frames off the ingest queue and process them, one per core by default.
///
/// Each worker is a long-running loop on its own Dispatch work item with its own index, so it
/// can own per-worker state (FFTW plans, inference contexts) without locks.
final class FrameWorkers: Sendable {
    typealias Handler = @Sendable (_ frame: ReceivedFrame, _ worker: Int) -> Void
    /// Work a worker may do when the queue is empty; returns whether it did any.
    typealias Idle = @Sendable (_ worker: Int) -> Bool

    private let queue: FrameQueue
    private let count: Int
    private let handler: Handler
    private let idle: Idle
    private let done = DispatchGroup()
    /// Frames fully processed; the watchdog checks that it advances while frames are queued.
    let processed = Atomic<UInt64>(0)

    init(queue: FrameQueue, count: Int, idle: @escaping Idle = { _ in false }, handler: @escaping Handler) {
        self.queue = queue
        self.count = count
        self.idle = idle
        self.handler = handler
    }

    func start() {
        for worker in 0..<count {
            DispatchQueue.global(qos: .userInitiated).async(group: done) { [self] in
                // `take` returns nil on timeout too; the loop ends once the queue is closed and empty.
                while !queue.isFinished {
                    // A queued frame first; else idle work (a camera's backlog); else wait.
                    guard let frame = queue.take(timeout: 0) ?? (idle(worker) ? nil : queue.take(timeout: 0.1)) else {
                        continue
                    }
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
