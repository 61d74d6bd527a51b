import CInferenceKernels
import Foundation
import Synchronization

/// A fixed team of threads that share one job's tiles: the caller plus `size − 1` helpers
/// started once, at construction. ``run(tiles:)`` publishes a job of `tiles` tiles; every member
/// (the caller first among them) claims tiles one at a time and calls the team's ``work`` closure
/// (set once, by the owner) with each tile's index; `run` returns when all tiles are done.
///
/// The owner puts the job's parameters in its own memory before `run`, so a job allocates nothing
/// (a closure per job would: making a non-escaping closure escapable allocates its context), which
/// is why the engine parallelises its GEMMs itself instead of using OpenBLAS's thread pool
/// (OpenBLAS 0.3.21's threaded sgemm mallocs a 512 KiB job table on every call).
///
/// The caller waits for *tiles*, never for *members*: a helper that the OS has not scheduled yet
/// (the machine is shared) claims nothing, and the caller takes its tiles instead of waiting a
/// whole time slice for it to wake up and find the job already done. Only a tile a helper has
/// actually claimed is waited for. That is what keeps a forward pass's latency tail short.
///
/// Helpers spin (yielding) for a millisecond or two after a job (the next layer's job usually
/// follows within microseconds), then sleep on a condition variable, so an idle daemon costs no CPU.
final class WorkerTeam: @unchecked Sendable {
    /// Members, the caller included.
    let size: Int

    /// The current job in one word, so that a claim is a single compare-and-swap that can only
    /// succeed on the job it read: generation (bits 32–63), tile count (16–31), next unclaimed
    /// tile (0–15).
    private let job = Atomic<UInt64>(0)
    /// Tiles of the current job finished; reset before each job is published.
    private let completed = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let exited = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    /// Helpers asleep on `wake`; guarded by `mutex`.
    private var sleepers = 0
    /// What a member runs for one tile, given the tile's index; set once, before the first
    /// ``run(tiles:)``. It reads the job's parameters from the owner's memory.
    var work: (Int) -> Void = { _ in }
    private var threads: [Thread] = []

    /// Most tiles one job may have (the tile fields of ``job`` are 16 bits).
    static let maxTiles = 0xFFFF
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
            let thread = Thread { [unowned(unsafe) self] in self.helperLoop() }
            thread.name = "flowd-inference-\(member)"
            thread.start()
            threads.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        publish(tiles: 0)
        while exited.load(ordering: .acquiring) < size - 1 { sched_yield() }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
    }

    /// Runs `work(tile)` for tile 0 ..< `tiles`, each exactly once, on whichever members claim
    /// them, and returns when all are done.
    func run(tiles: Int) {
        precondition((0...Self.maxTiles).contains(tiles), "a job of \(tiles) tiles (at most \(Self.maxTiles))")
        completed.store(0, ordering: .relaxed)
        publish(tiles: tiles)
        runClaimedTiles()
        var poll = 0
        while completed.load(ordering: .acquiring) < tiles {
            spinPause(poll)
            poll += 1
        }
    }

    /// Starts a new generation of ``job`` with `tiles` unclaimed tiles, and wakes sleeping
    /// helpers if there is work for more than the caller.
    private func publish(tiles: Int) {
        let generation = (job.load(ordering: .relaxed) >> 32) &+ 1
        job.store(generation << 32 | UInt64(tiles) << 16, ordering: .releasing)
        guard size > 1, tiles > 1 || stopping.load(ordering: .relaxed) else { return }
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(wake) }
        pthread_mutex_unlock(mutex)
    }

    /// Claims and runs tiles until none are left unclaimed.
    private func runClaimedTiles() {
        while let tile = claim() {
            work(tile)
            completed.add(1, ordering: .releasing)
        }
    }

    /// The next unclaimed tile of the current job, or nil. A successful claim (acquiring) also
    /// makes the owner's job parameters, written before ``run(tiles:)``, visible; they stay
    /// unchanged until the claimed tile completes, because the caller waits for it.
    private func claim() -> Int? {
        var word = job.load(ordering: .acquiring)
        while true {
            let next = word & 0xFFFF
            guard next < (word >> 16) & 0xFFFF else { return nil }
            let (exchanged, original) = job.compareExchange(
                expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            if exchanged { return Int(next) }
            word = original
        }
    }

    private func helperLoop() {
        var seen: UInt64 = 0
        while true {
            var spin = 0
            while job.load(ordering: .acquiring) >> 32 == seen && spin < Self.spins {
                spinPause(spin)
                spin += 1
            }
            if job.load(ordering: .acquiring) >> 32 == seen {
                pthread_mutex_lock(mutex)
                sleepers += 1
                while job.load(ordering: .acquiring) >> 32 == seen { pthread_cond_wait(wake, mutex) }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
            }
            seen = job.load(ordering: .acquiring) >> 32
            if stopping.load(ordering: .acquiring) {
                exited.add(1, ordering: .releasing)
                return
            }
            runClaimedTiles()
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
