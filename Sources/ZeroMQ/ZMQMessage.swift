import CZeroMQ

/// One message part, owning a heap-allocated `zmq_msg_t`.
///
/// `zmq_msg_t` must not move in memory while libzmq uses it, so it lives on the heap, not in a
/// Swift value; it is initialised in `init` and closed exactly once, in `deinit`.
public final class ZMQMessage {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty message, ready to receive into.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The part's bytes, valid until the next receive into this message.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer))
    }

    /// Whether more parts of the same multipart message follow.
    public var hasMore: Bool { zmq_msg_more(pointer) != 0 }
}
