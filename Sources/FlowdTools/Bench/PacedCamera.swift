import Dispatch
import Foundation
import Protocol
import ZeroMQ

/// The camera of `flowd bench pipeline`: sends the pool's frames over a PUSH socket on a fixed
/// schedule, as a free-running camera does, and never waits for the receiver.
///
/// A frame that libzmq cannot take at once (the daemon's receive buffer and this socket's send
/// buffer are full: the daemon's receive thread fell behind) is not sent and is counted under
/// ``Tally/notSent``: a real camera would have lost it too. The schedule is absolute (frame k is
/// due at start + k / rate), so a late frame is sent at once and the rate does not drift;
/// ``Tally/maxLatenessMilliseconds`` says how late this process was (a loaded machine).
final class PacedCamera {
    struct Tally {
        var sent = 0
        var notSent = 0
        var maxLatenessMilliseconds = 0.0
    }

    private let socket: ZMQSocket
    private let pool: TwinFramePool
    /// The stream's next frame index (its `seq`).
    private(set) var next = 0
    private(set) var tally = Tally()

    /// `bind`: the camera binds and the daemons connect (worker processes: libzmq hands each
    /// frame to the next connected worker, round-robin); else it connects to the daemon.
    init(context: ZMQContext, endpoint: String, bind: Bool = false, pool: TwinFramePool) throws(ZMQError) {
        socket = try ZMQSocket(context: context, kind: .push, linger: 0)
        // As much slack on this side as the daemon's default receive_hwm: a frame is lost only
        // when the daemon's receive thread is that far behind, not when this process's I/O
        // thread is briefly descheduled on a loaded machine.
        try socket.setSendHighWaterMark(100)
        if bind {
            try socket.bind(endpoint)
        } else {
            try socket.connect(endpoint)
        }
        self.pool = pool
    }

    /// Sends the stream's next `count` frames at `rate` frames/s from `start`
    /// (`DispatchTime.now().uptimeNanoseconds` scale), on the calling thread.
    func send(count: Int, rate: Double, from start: UInt64) throws {
        let period = 1e9 / rate
        for k in 0..<count {
            let due = start + UInt64(Double(k) * period)
            var now = DispatchTime.now().uptimeNanoseconds
            if due > now {
                var pause = timespec(tv_sec: Int((due - now) / 1_000_000_000), tv_nsec: Int((due - now) % 1_000_000_000))
                nanosleep(&pause, nil)
                now = DispatchTime.now().uptimeNanoseconds
            }
            tally.maxLatenessMilliseconds = max(tally.maxLatenessMilliseconds, Double(now &- due) / 1e6)
            let shot = pool.frame(next)
            var header = shot.header
            (header.seq, header.timeNanoseconds) = (UInt64(next), Int64(Date().timeIntervalSince1970 * 1e9))
            let headerBytes = header.jsonBytes()
            do {
                try headerBytes.withUnsafeBytes { headerPart in
                    try shot.pixels.withUnsafeBytes { pixelPart in try socket.send([headerPart, pixelPart], wait: false) }
                }
                tally.sent += 1
            } catch let error as ZMQError where error.isTimeout {
                tally.notSent += 1
            }
            next += 1
        }
    }

    func close() {
        socket.close()
    }
}
