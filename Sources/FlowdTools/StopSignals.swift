import Dispatch
import Glibc
import Synchronization

/// SIGINT (Ctrl-C) and SIGTERM as a request to stop, for the commands that end their work
/// gracefully instead of dying mid-way: `flowd simulate --publish` finishes its ground truth,
/// `flowd watch` leaves the terminal tidy, `flowd demo` stops its two child processes in order
/// and still prints its summary.
///
/// The signals are taken from their default action (terminate) for the life of the process;
/// the command polls ``isRequested`` between units of work.
public final class StopSignals: Sendable {
    private let requested = Atomic<Bool>(false)
    // Written once, in init; kept so that the handlers live as long as this object.
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []

    public init(_ signals: [Int32] = [SIGINT, SIGTERM]) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: number, queue: .global())
        }
        for source in sources {
            source.setEventHandler { [weak self] in self?.requested.store(true, ordering: .relaxed) }
            source.resume()
        }
    }

    /// `true` once a stop signal arrived.
    public var isRequested: Bool { requested.load(ordering: .relaxed) }
}
