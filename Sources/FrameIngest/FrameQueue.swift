import Foundation
import Protocol

/// A bounded first-in first-out queue of frames between the receive threads and the workers.
///
/// Receivers never block: a frame that finds the queue full is refused and counted as dropped,
/// because blocking would only move the backlog into libzmq's buffers, where it cannot be seen.
/// Workers block (with a timeout) while it is empty.
public final class FrameQueue: @unchecked Sendable {
    // Sendable: every field is read and written under `condition`.
    private let condition = NSCondition()
    private var ring: [ReceivedFrame?]
    private var head = 0
    private var count = 0
    private var closed = false
    private var highWaterMark = 0

    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        ring = Array(repeating: nil, count: capacity)
    }

    /// Appends a frame; `false` when the queue is full or closed (the caller counts the drop).
    public func offer(_ frame: ReceivedFrame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, count < capacity else { return false }
        ring[(head + count) % capacity] = frame
        count += 1
        highWaterMark = max(highWaterMark, count)
        condition.signal()
        return true
    }

    /// Removes the oldest frame, waiting up to `timeout` seconds for one.
    /// Returns `nil` on timeout, or once the queue is closed and empty.
    public func take(timeout: TimeInterval) -> ReceivedFrame? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while count == 0 {
            if closed || !condition.wait(until: deadline) { return nil }
        }
        let frame = ring[head]
        ring[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return frame
    }

    /// Refuses new frames; ``take(timeout:)`` still drains what is queued, then returns `nil`.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    public var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }

    /// The most frames that were waiting at once since the queue was made: how close a run came
    /// to dropping (a sampled ``depth`` misses the peaks).
    public var maxDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return highWaterMark
    }

    /// `true` once closed and drained.
    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && count == 0
    }
}

/// A frame with where and when it arrived.
public struct ReceivedFrame: Sendable {
    public let frame: Frame
    /// The camera id its counters are kept under.
    public let camera: String
    /// Arrival time, `DispatchTime.now().uptimeNanoseconds` (monotonic), for latency figures.
    public let arrivalNanoseconds: UInt64
    /// Where it sits among the camera's frames (``FramePlace``).
    public let place: FramePlace
    /// Position among the frames received from this camera (0, 1, 2, … with no holes): workers
    /// finish frames out of order, and the tracker puts them back in this order.
    public var ordinal: UInt64 { place.ordinal }

    public init(frame: Frame, camera: String, arrivalNanoseconds: UInt64, place: FramePlace) {
        self.frame = frame
        self.camera = camera
        self.arrivalNanoseconds = arrivalNanoseconds
        self.place = place
    }
}
