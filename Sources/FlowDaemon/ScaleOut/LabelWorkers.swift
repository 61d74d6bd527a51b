import Dispatch
import Synchronization

/// `role: aggregator`: the threads that classify the cells the aggregator's tracker completes
/// (`scale_out.label_threads`), so that one camera's rate is not bounded by what one core can
/// classify. Tracking stays on the aggregator's receive thread (it needs the frames in order);
/// labelling, most of the aggregator's CPU (docs/scale-out.md), runs here, each thread on its
/// own inference context (its index), and the cells still leave in cell-id order
/// (``CameraStage/releaseInOrder(cellID:_:)``).
///
/// ``submit(_:)`` waits while `capacity` jobs are waiting: a slow classifier holds up the
/// receive thread, and through libzmq's queue the workers, instead of piling up cells in memory.
final class LabelWorkers: Sendable {
    /// One batch of labelling, given the index of the thread (and inference context) it runs on.
    typealias Job = @Sendable (_ worker: Int) -> Void

    let count: Int
    private let waiting = Mutex<[Job]>([])
    /// Signalled once per job submitted, and once per thread at ``finish()``.
    private let available = DispatchSemaphore(value: 0)
    /// Free places among the `capacity` a job may wait in (a running job holds none).
    private let space: DispatchSemaphore
    private let done = DispatchGroup()

    /// Starts `count` threads (at least one).
    init(count: Int, capacity: Int = 64) {
        self.count = max(1, count)
        space = DispatchSemaphore(value: max(1, capacity))
        for worker in 0..<self.count {
            DispatchQueue.global(qos: .userInitiated).async(group: done) { [self] in run(worker) }
        }
    }

    /// Queues `job`; waits while `capacity` jobs wait. Not after ``finish()``.
    func submit(_ job: @escaping Job) {
        space.wait()
        waiting.withLock { $0.append(job) }
        available.signal()
    }

    /// Runs every job submitted so far, then ends the threads; returns once they have.
    func finish() {
        for _ in 0..<count { available.signal() }
        done.wait()
    }

    /// Each wake-up takes one job (jobs are queued before their signal, so before ``finish()``
    /// every wake-up finds one); a thread that finds none after ``finish()`` ends.
    private func run(_ worker: Int) {
        while true {
            available.wait()
            guard let job = waiting.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return }
            space.signal()
            job(worker)
        }
    }
}
