import CInferenceKernels
import Foundation
import Synchronization

/// A fixed team of threads that run one job together: the caller plus `size − 1` helpers
/// started once, at construction. ``run()`` calls the team's ``work`` closure (set once, by the
/// owner) on every member with its member index and returns when all are done. The owner puts
/// the job's parameters in its own memory first, so a run allocates nothing (a closure per job
/// would: making a non-escaping closure escapable allocates its context), which is why the engine
/// parallelises its GEMMs itself instead of using OpenBLAS's thread pool (OpenBLAS 0.3.21's
/// threaded sgemm mallocs a 512 KiB job table on every call).
///
/// Helpers spin (yielding) for a millisecond or two after a job (the next layer's job usually
/// follows within microseconds), then sleep on a condition variable, so an idle daemon costs no CPU.
final class WorkerTeam: @unchecked Sendable {
    /// Members, the caller included.
    let size: Int

    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    /// Helpers asleep on `wake`; guarded by `mutex`.
    private var sleepers = 0
    /// What each member runs, given its index; set once, before the first ``run()``.
    var work: (Int) -> Void = { _ in }
    private var threads: [Thread] = []

    /// Polls before a helper sleeps: ``busyPolls`` with PAUSE, then sched_yield (≈ 1–2 ms in all
    /// on an idle core).
    private static let spins = 4_000
    /// Polls that spin on the core (PAUSE, ≈ 50–100 µs) before each further poll yields it: the
    /// waits inside a forward pass are microseconds, and yielding at once would hand the core to
    /// another process for a whole time slice on a busy machine.
    private static let busyPolls = 2_000

    init(size: Int) {
        self.size = max(1, size)
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for member in 1..<self.size {
            let thread = Thread { [unowned(unsafe) self] in self.helperLoop(member: member) }
            thread.name = "flowd-inference-\(member)"
            thread.start()
            threads.append(thread)
        }
    }

    deinit {
        finished.store(0, ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        while finished.load(ordering: .acquiring) > -(size - 1) { sched_yield() }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
    }

    /// Runs `work(member)` for member 0 (on the calling thread) … size − 1, and waits for all.
    func run() {
        if size == 1 { return work(0) }
        finished.store(0, ordering: .relaxed)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(wake) }
        pthread_mutex_unlock(mutex)
        work(0)
        var poll = 0
        while finished.load(ordering: .acquiring) < size - 1 {
            spinPause(poll)
            poll += 1
        }
    }

    private func helperLoop(member: Int) {
        var seen = 0
        while true {
            var spin = 0
            while generation.load(ordering: .acquiring) == seen && spin < Self.spins {
                spinPause(spin)
                spin += 1
            }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(mutex)
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) {
                finished.subtract(1, ordering: .releasing)
                return
            }
            work(member)
            finished.add(1, ordering: .releasing)
        }
    }

    /// Poll number `poll` of a wait: PAUSE for the first ``busyPolls``, then sched_yield, which
    /// lets another process run (on a shared machine a pure spin would steal the very core the
    /// other member needs).
    @inline(__always) private func spinPause(_ poll: Int) {
        if poll < Self.busyPolls {
            flowd_cpu_relax()
        } else {
            sched_yield()
        }
    }
}
