import ArgumentParser
import Foundation
import Protocol
import ZeroMQ
import Simulator

/// `flowd simulate`: the digital twin as a camera. Writes holograms, the reference and the
/// ground truth to a folder (docs/simulator.md describes the layout), or publishes the frames
/// over ZeroMQ (frame message v1) as they are rendered, at a set rate.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate holograms of flowing cells with ground truth (the rig's digital twin).",
        discussion: """
            Writes to --out: reference.npy/.tif (cell-free hologram), holograms/NNNNNN.npy/.tif, \
            truth/opd_NNNNNN.npy (true OPD, nm, float32), truth.jsonl (one line per frame: every \
            cell's id, class, label, centre) and twin.json (the parameters). With --publish the \
            frames go to a ZeroMQ socket instead, rendered on a background thread (at most \
            --render-ahead frames ahead) and sent at --rate until --frames or SIGINT/SIGTERM; \
            --out, if given, receives the reference and twin.json at once and truth.jsonl line by \
            line as the frames are sent.
            """)

    @OptionGroup var twin: TwinOptions

    @OptionGroup var optics: OpticsOptions

    @Option(help: "Number of frames (default: 100 to a folder; with --publish, until SIGINT or SIGTERM).")
    var frames: Int?

    @Option(help: "Output folder (created).")
    var out: String?

    @Option(help: "Publish frames on this ZeroMQ endpoint (e.g. tcp://127.0.0.1:5555) instead of writing them.")
    var publish: String?

    @Option(help: "Socket type for --publish: push (default; connects) or pub (binds).")
    var socket: String = "push"

    @Flag(inversion: .prefixedNo, help: "Bind instead of connect (default: bind for pub, connect for push).")
    var bind: Bool?

    @Option(help: "Frames per second to publish (default: the twin's camera rate, --fps).")
    var rate: Double?

    @Option(help: "With --publish: frames rendered ahead of sending, at most (1 MB each at 1024² 8-bit).")
    var renderAhead: Int = 32

    @OptionGroup(title: "CurveZMQ (with --publish, to a flowd with curve.server_key set)")
    var curve: CurveClientOptions

    @Option(help: "Image formats to write: npy, tiff or npy,tiff.")
    var format: String = "npy,tiff"

    @Flag(help: "Do not write the true OPD maps (they are 4 bytes per pixel per frame).")
    var noTruthMaps = false

    func validate() throws {
        if let frames, frames <= 0 { throw ValidationError("--frames must be positive") }
        guard out != nil || publish != nil else { throw ValidationError("give --out DIR, --publish ENDPOINT or both") }
        guard FramePublisher.Kind(rawValue: socket) != nil else { throw ValidationError("--socket must be push or pub") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        guard renderAhead > 0 else { throw ValidationError("--render-ahead must be positive") }
        let formats = Set(format.split(separator: ",").map(String.init))
        guard !formats.isEmpty, formats.isSubset(of: ["npy", "tiff"]) else {
            throw ValidationError("--format must list npy and/or tiff")
        }
    }

    func run() async throws {
        var twin = try self.twin.makeTwin(optics)
        if let publish {
            try await publishFrames(twin: twin, endpoint: publish)
        } else {
            try writeFolder(twin: &twin, root: URL(fileURLWithPath: out!))
        }
    }

    /// Renders ahead on a background thread and sends at --rate, writing each frame's truth as
    /// it goes out. Progress lines go to stdout about once a second; a rate the rendering cannot
    /// keep up with is reported on stderr, with the rate achieved.
    private func publishFrames(twin: DigitalTwin, endpoint: String) async throws {
        let stop = StopSignals()
        let kind = FramePublisher.Kind(rawValue: socket)!
        let publisher = try FramePublisher(
            context: ZMQContext(), kind: kind, endpoint: endpoint, bind: bind ?? (kind == .pub), curve: try curve.keys())
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

    private func writeFolder(twin: inout DigitalTwin, root: URL) throws {
        let formats = Set(format.split(separator: ",").map(String.init))
        let fm = FileManager.default
        for dir in ["holograms", "truth"] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        func write(_ frame: Frame, _ base: URL) throws {
            try HologramFiles.write(
                frame, npy: formats.contains("npy") ? base.appendingPathExtension("npy") : nil,
                tiff: formats.contains("tiff") ? base.appendingPathExtension("tif") : nil)
        }
        try write(twin.reference(), root.appendingPathComponent("reference"))
        let truth = try TruthFile(creating: root.appendingPathComponent("truth.jsonl"))
        for i in 0..<(frames ?? 100) {
            let (frame, frameTruth) = twin.nextFrame()
            let name = String(format: "%06d", i)
            try write(frame, root.appendingPathComponent("holograms/\(name)"))
            if !noTruthMaps {
                try HologramFiles.writeFloat(
                    frameTruth.opdNm, rows: twin.flow.height, cols: twin.flow.width,
                    to: root.appendingPathComponent("truth/opd_\(name).npy"))
            }
            try truth.append(frame: i, cells: frameTruth.cells)
        }
        try TwinMetadata(twin, frames: truth.frames, cells: truth.cellIDs.count).write(to: root)
        print("flowd simulate: \(truth.frames) frames, \(truth.cellIDs.count) cells → \(root.path)")
    }
}
