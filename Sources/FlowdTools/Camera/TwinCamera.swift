import FlowDaemon
import Foundation
import Protocol
import Simulator
import SystemSupport
import ZeroMQ

/// `flowd simulate --publish`: the digital twin as a camera, publishing frames (frame message
/// v1) over ZeroMQ as they are rendered, at a set rate, until its frames are sent or SIGINT /
/// SIGTERM. With `out`, the reference and twin.json are written at once and truth.jsonl line by
/// line as the frames go out.
public struct TwinCamera: Sendable {
    public var twin: DigitalTwin
    public var endpoint: String
    public var kind: FramePublisher.Kind
    /// Bind instead of connect.
    public var bind: Bool
    /// Frames per second to send; `nil`: the twin's camera rate.
    public var rate: Double?
    /// Frames rendered ahead of sending, at most (1 MB each at 1024² 8-bit).
    public var renderAhead: Int
    /// Frames to send; `nil`: until stopped.
    public var frames: Int?
    public var curve: CurveClientKeys?
    /// Folder for the ground truth; `nil`: none is kept.
    public var out: String?

    public init(
        twin: DigitalTwin, endpoint: String, kind: FramePublisher.Kind, bind: Bool, rate: Double?, renderAhead: Int,
        frames: Int?, curve: CurveClientKeys?, out: String?
    ) {
        (self.twin, self.endpoint, self.kind, self.bind, self.rate) = (twin, endpoint, kind, bind, rate)
        (self.renderAhead, self.frames, self.curve, self.out) = (renderAhead, frames, curve, out)
    }

    /// Renders ahead on a background thread and sends at `rate`, writing each frame's truth as
    /// it goes out. Progress lines go to stdout about once a second; a rate the rendering cannot
    /// keep up with is reported on stderr, with the rate achieved.
    public func run() async throws {
        let stop = StopSignals()
        let publisher = try FramePublisher(context: ZMQContext(), kind: kind, endpoint: endpoint, bind: bind, curve: curve)
        var truth: TruthFile?
        if let out {
            let root = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try HologramFiles.write(twin.reference(), npy: root.appendingPathComponent("reference.npy"), tiff: nil)
            try TwinMetadata(twin, frames: 0, cells: 0).write(to: root)
            truth = try TruthFile(creating: root.appendingPathComponent("truth.jsonl"))
        }
        let rate = self.rate ?? twin.flow.frameRate
        let camera = RenderAheadTwin(twin: twin, frames: frames, capacity: renderAhead)
        defer { camera.stop() }
        let total = frames.map { "\($0)" } ?? "until stopped"
        say("flowd simulate: \(twin.flow.width)×\(twin.flow.height) holograms (\(total)) on \(endpoint) (\(kind.rawValue)) at \(rate) frames/s")

        // Fill the buffer first, so that the first seconds go out at an even pace too.
        let target = min(renderAhead, frames ?? renderAhead)
        while !stop.isRequested, camera.waitForBuffer(upTo: 1) < target {
            say("flowd simulate: rendering ahead \(camera.buffered)/\(target) frames")
        }

        // Header times are the twin's camera clock (frame index / --fps from the first frame),
        // not the moment of sending: the daemon sees the flow the twin simulated at any rate.
        let epochNanoseconds = Int64(Date().timeIntervalSince1970 * 1e9)
        let frameNanoseconds = 1e9 / twin.flow.frameRate
        let interval = Duration.seconds(1 / rate)
        let clock = ContinuousClock()
        let start = clock.now
        var due = start
        var lastReport = start
        var sent = 0
        var late = 0
        while !stop.isRequested {
            if due > clock.now { try await Task.sleep(until: due) }
            guard let (shot, waited) = camera.next() else { break }
            if waited {
                // Rendering fell behind the rate: this frame goes out late, as soon as it is ready.
                if late == 0 {
                    let speed = camera.renderRate.map { String(format: "%.1f", $0) } ?? "?"
                    FileHandle.standardError.write(Data(
                        ("flowd simulate: rendering runs at \(speed) frames/s here, slower than --rate \(rate); "
                            + "frames go out as they are rendered\n").utf8))
                }
                late += 1
            }
            var header = shot.frame.header
            header.seq = UInt64(shot.index)
            header.timeNanoseconds = epochNanoseconds + Int64(Double(shot.index) * frameNanoseconds)
            guard try publisher.send(Frame(header: header, pixels: shot.frame.pixels), giveUp: { stop.isRequested }) else {
                break
            }
            try truth?.append(frame: shot.index, cells: shot.cells)
            sent += 1
            // The next frame is due one interval on: behind schedule by up to one interval, the
            // pace catches up; further behind, the schedule restarts from now (no burst).
            due = max(due, clock.now - interval) + interval
            if clock.now - lastReport >= .seconds(1) {
                lastReport = clock.now
                say(String(
                    format: "flowd simulate: sent %d frames (camera time %.2f s), %.1f frames/s, %d/%d rendered ahead",
                    sent, Double(sent) / twin.flow.frameRate, Double(sent) / max((clock.now - start).seconds, 1e-9),
                    camera.buffered, camera.capacity))
            }
        }
        if let out, let truth {
            try TwinMetadata(twin, frames: truth.frames, cells: truth.cellIDs.count).write(to: URL(fileURLWithPath: out))
        }
        let elapsed = (clock.now - start).seconds
        var summary = String(
            format: "flowd simulate: sent %d frames in %.2f s (%.1f frames/s; --rate %g)", sent, elapsed,
            Double(sent) / max(elapsed, 1e-9), rate)
        if late > 0 { summary += ", \(late) late (waited for rendering)" }
        if stop.isRequested { summary += ", stopped by a signal" }
        print(summary)
    }

    /// Prints a progress line and flushes it: a reader on a pipe (flowd demo) sees it at once.
    private func say(_ line: String) {
        print(line)
        fflush(nil)
    }

}
