import Dispatch
import Synchronization
import Testing

@testable import FlowDaemon

/// The aggregator's label threads (`scale_out.label_threads`; docs/scale-out.md): every batch
/// submitted is labelled once, on up to `count` threads at a time, each with its own index.
@Suite("Scale-out: the aggregator's label threads")
struct LabelWorkersTests {
    @Test("every job submitted runs exactly once before finish() returns, each on a thread index below count")
    func everyJobRunsOnce() {
        let workers = LabelWorkers(count: 3, capacity: 4)
        let ran = Mutex<[Int: Int]>([:])
        let indices = Mutex<Set<Int>>([])
        for job in 0..<200 {
            workers.submit { worker in
                ran.withLock { $0[job, default: 0] += 1 }
                indices.withLock { _ = $0.insert(worker) }
            }
        }
        workers.finish()
        #expect(ran.withLock { $0 } == Dictionary(uniqueKeysWithValues: (0..<200).map { ($0, 1) }))
        #expect(indices.withLock { $0 }.isSubset(of: [0, 1, 2]))
    }

    @Test("jobs run side by side on different threads (two jobs that wait for each other both finish)")
    func jobsRunInParallel() {
        let workers = LabelWorkers(count: 2)
        let bothStarted = DispatchGroup()
        bothStarted.enter()
        bothStarted.enter()
        let outcomes = Mutex<[DispatchTimeoutResult]>([])
        for _ in 0..<2 {
            workers.submit { _ in
                bothStarted.leave()
                // With one thread the second job could not start, and this wait would time out.
                let outcome = bothStarted.wait(timeout: .now() + 5)
                outcomes.withLock { $0.append(outcome) }
            }
        }
        workers.finish()
        #expect(outcomes.withLock { $0 } == [.success, .success])
    }

    @Test("submit waits while capacity jobs wait: the caller is held back instead of cells piling up")
    func submitAppliesBackPressure() {
        let workers = LabelWorkers(count: 1, capacity: 1)
        let release = DispatchSemaphore(value: 0)
        workers.submit { _ in release.wait() }  // runs, and blocks the one thread
        workers.submit { _ in }  // waits: fills the one place
        let third = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            workers.submit { _ in }
            third.signal()
        }
        #expect(third.wait(timeout: .now() + 0.3) == .timedOut, "the third submit must wait for a free place")
        release.signal()
        #expect(third.wait(timeout: .now() + 5) == .success)
        workers.finish()
    }
}
