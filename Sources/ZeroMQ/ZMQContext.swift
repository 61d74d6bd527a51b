import CZeroMQ
import Glibc
import Synchronization

/// A libzmq context: the I/O threads behind every socket of the process.
///
/// Thread-safe (libzmq guarantees it). Terminated when the last reference goes away, after
/// every socket was closed; sockets keep their context alive.
public final class ZMQContext: Sendable {
    // Sendable: libzmq contexts are thread-safe, and the handle never changes.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer
    private let terminated = Atomic<Bool>(false)

    /// - Parameter ioThreads: libzmq I/O threads. One moves about a gigabyte a second, which
    ///   is what one 1024² float32 camera at 250 frames/s needs.
    public init(ioThreads: Int32 = 1) {
        handle = zmq_ctx_new()!
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
    }

    deinit { terminate() }

    /// Terminates the context once every socket is closed: blocks until each closed socket has
    /// sent its queued messages or its linger period ran out. Later calls do nothing.
    public func terminate() {
        guard !terminated.exchange(true, ordering: .acquiringAndReleasing) else { return }
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }

    /// The libzmq version, e.g. "4.3.4", for the start-up log.
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
