import Dispatch
import Foundation
import Synchronization

/// A dedicated thread for a loop that spends its life blocked in a system call (`zmq_msg_recv`,
/// `poll`, `accept`), with the stop flag it checks between turns and the wait for it to end.
///
/// A dedicated thread, not a Dispatch queue or a task: blocking a Dispatch worker would starve
/// the reconstruction workers, and blocking the cooperative pool would stall every service. The
/// loop is expected to block for a bounded time per turn (a receive timeout of ≈ 100 ms), look
/// at ``isStopping``, and return soon after it turns true, closing what it owns.
public final class BackgroundThread: Sendable {
    /// The thread's name, as `top -H` and a debugger show it.
    public let name: String
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(name: String) {
        self.name = name
    }

    /// Runs `loop` on a new thread; a second call does nothing.
    public func start(_ loop: @escaping @Sendable () -> Void) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [finished] in
            loop()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// True once ``stop()`` was called: the loop should finish its turn and return.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Asks the loop to return and waits until it has. Returns false when it was never started
    /// (the owner then closes what the loop would have closed).
    @discardableResult
    public func stop() -> Bool {
        stopping.store(true, ordering: .releasing)
        guard started.load(ordering: .acquiring) else { return false }
        finished.wait()
        finished.signal()  // a second stop() returns at once
        return true
    }
}
