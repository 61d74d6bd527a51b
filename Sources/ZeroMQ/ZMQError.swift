import CZeroMQ
import Glibc

/// A failed libzmq call: the operation, errno and libzmq's own explanation.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32

    public init(_ operation: String, errno: Int32 = zmq_errno()) {
        self.operation = operation
        self.errno = errno
    }

    /// `true` when a receive or send timed out (`EAGAIN`): not a failure, just nothing to do.
    public var isTimeout: Bool { errno == EAGAIN }

    /// `true` when the context was terminated underneath the socket: time to stop.
    public var isTerminated: Bool { errno == ETERM }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(errno))) (errno \(errno))"
    }
}

/// Calls a libzmq function that returns −1 on error, retrying while a signal interrupted it
/// (`EINTR`), as every blocking libzmq call may be when the daemon catches SIGTERM or SIGHUP.
@inline(__always)
func retryingOnEINTR(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = call()
        if rc != -1 { return rc }
        let error = zmq_errno()
        if error != EINTR { throw ZMQError(operation(), errno: error) }
    }
}
