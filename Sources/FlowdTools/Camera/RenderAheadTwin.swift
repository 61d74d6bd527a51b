import Foundation
import Protocol
import Simulator

/// The digital twin rendering on a background thread into a bounded buffer, ahead of the
/// thread that sends its frames.
///
/// A twin frame takes tens of milliseconds to render (≈ 60 ms at 1024² on one core of the
/// development machine; docs/simulator.md), longer than the interval of a 200 frames/s camera,
/// and rendering competes with the daemon for the same cores. Rendering ahead lets the sender
/// keep an even pace through hiccups; the bound (`capacity` frames: 1 MB each at 1024² 8-bit)
/// keeps memory flat however long the camera runs. The frames come out in order, each with its
/// ground truth (the cells in view; the true OPD map is not kept, it is 4 bytes a pixel).
final class RenderAheadTwin: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is read and written under `condition`.

    /// One rendered frame and its truth.
    struct Shot: Sendable {
        /// 0, 1, 2, … in flow order.
        var index: Int
        var frame: Frame
        var cells: [CellTruth]
    }

    /// Frames the buffer holds at most.
    let capacity: Int
    private let condition = NSCondition()
    private var buffer: [Shot] = []
    private var finished = false
    private var stopped = false
    private var rendered = 0
    private var renderSeconds = 0.0

    /// Starts rendering at once: `frames` frames, or until ``stop()`` when `nil`.
    init(twin: DigitalTwin, frames: Int?, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        let thread = Thread { [self] in render(twin, frames: frames) }
        thread.name = "flowd-twin-render"
        thread.start()
    }

    private func render(_ twin: DigitalTwin, frames: Int?) {
        var twin = twin
        var index = 0
        while frames.map({ index < $0 }) ?? true {
            condition.lock()
            while buffer.count >= capacity && !stopped { condition.wait() }
            let stop = stopped
            condition.unlock()
            if stop { break }

            let start = DispatchTime.now().uptimeNanoseconds
            let (frame, truth) = twin.nextFrame()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

            condition.lock()
            if !stopped { buffer.append(Shot(index: index, frame: frame, cells: truth.cells)) }
            rendered += 1
            renderSeconds += seconds
            condition.broadcast()
            condition.unlock()
            index += 1
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next frame, waiting for it to be rendered (`waited`: it was not ready); `nil` once
    /// every frame was taken or rendering was stopped.
    func next() -> (shot: Shot, waited: Bool)? {
        condition.lock()
        defer { condition.unlock() }
        var waited = false
        while buffer.isEmpty && !finished {
            waited = true
            condition.wait()
        }
        guard !buffer.isEmpty else { return nil }
        let shot = buffer.removeFirst()
        condition.broadcast()
        return (shot, waited)
    }

    /// Waits until the buffer is full or rendering has finished, up to `seconds`; returns the
    /// frames buffered.
    func waitForBuffer(upTo seconds: Double) -> Int {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while buffer.count < capacity && !finished && condition.wait(until: deadline) {}
        return buffer.count
    }

    /// Frames rendered and not yet taken.
    var buffered: Int { condition.withLock { buffer.count } }

    /// Frames rendered per second of the render thread's (wall-clock) time: one core's speed
    /// on an idle machine, less when the cores are shared; `nil` before the first frame.
    var renderRate: Double? {
        condition.withLock { rendered > 0 && renderSeconds > 0 ? Double(rendered) / renderSeconds : nil }
    }

    /// Stops rendering (after the frame in progress) and drops the frames not yet taken.
    func stop() {
        condition.lock()
        stopped = true
        finished = true
        buffer.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
