import Foundation
import Glibc
import Protocol
import Simulator
import SystemSupport
import ZeroMQ

/// `flowd demo`, the README's main job. Two child processes talk over loopback ZeroMQ, as on a
/// rig: the digital twin as a camera (`flowd simulate --publish`) and the daemon (`flowd run`
/// with the default model). The demo watches the daemon's result stream live, then scores what
/// it published against the twin's ground truth (``TruthComparison``, ``DemoSummary``).
public struct DemoSession: Sendable {
    /// Seconds of camera frames to send (frames = duration × rate).
    public var duration: Double
    /// Frames per second the camera sends (wall clock).
    public var rate: Double
    /// Frame size, pixels per side.
    public var size: Int
    /// Cells per µL of sample (the twin's concentration).
    public var concentration: Double
    /// Pixel size in the sample plane, µm, of the camera and the daemon; `nil`: the daemon's
    /// default (``DefaultOptics/pixelUm``).
    public var pixelUm: Double?
    /// Random seed of the twin: the same seed gives the same cells.
    public var seed: UInt64
    /// Classifier model file.
    public var model: String
    /// Folder for the runs; each run gets a new subfolder.
    public var out: String
    /// Also write the summary as JSON to this file.
    public var summaryJson: String?
    /// More arguments for the camera (`flowd simulate`): the twin's conditions, e.g.
    /// `--conditions lab` (docs/simulator.md).
    public var twinArguments: [String] = []

    public init(
        duration: Double, rate: Double, size: Int, concentration: Double, pixelUm: Double?, seed: UInt64, model: String,
        out: String, summaryJson: String?
    ) {
        (self.duration, self.rate, self.size, self.concentration) = (duration, rate, size, concentration)
        (self.pixelUm, self.seed, self.model, self.out, self.summaryJson) = (pixelUm, seed, model, out, summaryJson)
    }

    public func run() async throws {
        let stop = StopSignals()
        let frames = max(Int((duration * rate).rounded()), 1)
        let runDirectory = try Self.makeRunDirectory(under: out)
        let cameraDirectory = runDirectory.appendingPathComponent("camera")
        let recordDirectory = runDirectory.appendingPathComponent("records")
        print("flowd demo: run folder \(runDirectory.path)")

        let input = "tcp://127.0.0.1:\(try freeLoopbackPort())"
        let results = "tcp://127.0.0.1:\(try freeLoopbackPort())"
        var daemonArguments = [
            "run", "--input", "pull+bind:\(input)", "--publish", results, "--model", model,
            "--set", "publish.counts_interval_s=0.5", "--set", "metrics.listen=off",
        ]
        var cameraOptics: [String] = []
        if let pixelUm {
            // The same optics on both sides (the tracker learns how far cells move per frame).
            cameraOptics = ["--pixel-um", "\(pixelUm)"]
            daemonArguments += [
                "--set", "reconstruction.pixel_um=\(pixelUm)",
                "--set", "tracking.gate_px=\(8 / pixelUm)",
            ]
        }
        // The run's cells are recorded inside the demo's folder; a free control port, so that a
        // flowd service already running on this machine keeps its own.
        daemonArguments += [
            "--set", "record.dir=\(recordDirectory.path)",
            "--set", "control.endpoint=tcp://127.0.0.1:\(try freeLoopbackPort())",
        ]

        // Subscribe before the daemon starts, so that once its first counts arrive no cell can
        // be missed.
        let context = ZMQContext()
        let subscriber = try ResultSubscriber(context: context, endpoint: results)
        let daemon = try FlowdChild("flowd run", arguments: daemonArguments, log: runDirectory.appendingPathComponent("flowd-run.log"))
        var camera: FlowdChild?
        defer {
            // Whatever went wrong, leave no child behind.
            camera?.send(SIGKILL)
            daemon.send(SIGKILL)
        }
        print("flowd demo: flowd run (pid \(daemon.pid)) with \(model): camera input \(input), results \(results)")

        var view = LiveView(endpoint: results)
        view.classOrder = CellClass.labelled.map(\.rawValue)
        let screen = LiveScreen()
        var cells: [CellMessage] = []
        var final: CountsMessage?
        /// Reads one message (waiting up to 100 ms) into the view and the record of cells;
        /// `false` when none came.
        @discardableResult func pump() throws -> Bool {
            guard let message = try subscriber.next(waitingUpTo: 100) else { return false }
            view.observe(message)
            switch message {
            case .cell(let cell): cells.append(cell)
            case .counts(let counts) where counts.final: final = counts
            case .undecodable(let topic, let reason): screen.log("flowd demo: unreadable \(topic) message: \(reason)")
            default: break
            }
            return true
        }
        func failed(_ child: FlowdChild, _ what: String) -> ToolError {
            ToolError("\(child.name) \(what) (status \(child.exitStatus.map(String.init) ?? "running")); "
                + "the end of \(child.log?.path ?? "its output"):\n\(child.logTail())")
        }

        let startDeadline = ContinuousClock.now + .seconds(60)
        while view.latest == nil {
            guard daemon.isRunning else { throw failed(daemon, "exited at start-up") }
            guard !stop.isRequested else { throw ToolError("stopped before the camera started") }
            guard ContinuousClock.now < startDeadline else { throw failed(daemon, "published no counts within 60 s") }
            try pump()
        }

        let cameraArguments = [
            "simulate", "--publish", input, "--frames", "\(frames)", "--rate", "\(rate)", "--size", "\(size)",
            "--concentration", "\(concentration)", "--seed", "\(seed)", "--out", cameraDirectory.path,
        ] + cameraOptics + twinArguments
        let cameraChild = try FlowdChild("flowd simulate", arguments: cameraArguments, log: runDirectory.appendingPathComponent("camera.log"))
        camera = cameraChild
        screen.log(
            "flowd demo: camera (pid \(cameraChild.pid)): the digital twin, \(size)×\(size) 8-bit holograms, "
                + "\(frames) frames at \(rate) frames/s, \(Int(concentration)) cells/µL, seed \(seed)")
        let cameraStart = ContinuousClock.now

        // The camera runs; Ctrl-C stops it (it keeps the truth of what it sent).
        var interrupted = false
        while cameraChild.isRunning {
            if stop.isRequested && !interrupted {
                interrupted = true
                cameraChild.send(SIGINT)
            }
            guard daemon.isRunning else { throw failed(daemon, "stopped while the camera was sending") }
            try pump()
            view.notes = ["camera  " + (cameraChild.latestLine ?? "starting")]
            screen.update(view)
        }
        let cameraSeconds = (ContinuousClock.now - cameraStart).seconds
        guard cameraChild.exitStatus == 0 else { throw failed(cameraChild, "failed") }
        let truthURL = cameraDirectory.appendingPathComponent("truth.jsonl")
        let truth = GroundTruth(frames: try TruthFile.read(truthURL))
        let framesSent = truth.frames.count
        view.notes = ["camera  " + (cameraChild.latestLine ?? "done")]

        // Every frame sent must reach the daemon before it is told to stop: wait while the
        // count grows.
        var lastProgress = ContinuousClock.now
        var accounted: UInt64 = 0
        while let counts = view.latest, counts.frames.received + counts.frames.malformed + counts.frames.dropped < framesSent,
            ContinuousClock.now - lastProgress < .seconds(10), !stop.isRequested
        {
            let now = counts.frames.received + counts.frames.malformed + counts.frames.dropped
            if now > accounted { (accounted, lastProgress) = (now, ContinuousClock.now) }
            guard daemon.isRunning else { throw failed(daemon, "stopped before the last frames arrived") }
            try pump()
            screen.update(view)
        }

        // Stop the daemon as systemd would: it drains its queue, publishes every cell still in
        // view, then its final counts.
        daemon.send(SIGTERM)
        let stopDeadline = ContinuousClock.now + .seconds(120)
        var lastMessage = ContinuousClock.now
        while final == nil, ContinuousClock.now < stopDeadline {
            if try pump() {
                lastMessage = ContinuousClock.now
            } else if !daemon.isRunning, ContinuousClock.now - lastMessage > .seconds(2) {
                break  // exited, and nothing more is coming
            }
            screen.update(view)
        }
        screen.finish(view)
        guard let final else { throw failed(daemon, "published no final counts") }
        guard daemon.waitForExit(upTo: 30), daemon.exitStatus == 0 else { throw failed(daemon, "did not stop cleanly") }

        let summary = DemoSummary(
            comparison: TruthComparison(
                cells: cells, cellsCounted: Int(final.cells.total), truth: truth,
                classes: CellClass.labelled.map(\.rawValue)),
            frames: final.frames, framesSent: framesSent, cameraSeconds: cameraSeconds, cellMessages: cells.count,
            fcsPath: nil, fcsNote: nil, rtdcPath: nil, runDirectory: runDirectory.path, truthPath: truthURL.path, model: model,
            objectsRejected: final.cells.objectsRejectedByReason,
            twin: [
                "size": Double(size), "pixel_um": pixelUm ?? DefaultOptics.pixelUm, "concentration": concentration,
                "seed": Double(seed), "rate": rate,
            ])
            .withFCS(in: recordDirectory)
        print("")
        if interrupted { print("flowd demo: stopped early by a signal, after \(framesSent) of \(frames) frames") }
        for line in summary.lines() { print(line) }
        if let summaryJson {
            try summary.write(to: URL(fileURLWithPath: summaryJson))
            print("  JSON      \(summaryJson)")
        }
        let unaccounted = framesSent - Int(final.frames.received + final.frames.malformed + final.frames.dropped)
        guard unaccounted == 0 else { throw ToolError("\(unaccounted) frames sent never reached the daemon") }
    }

    /// A new folder `out/YYYYmmdd-HHMMSS` (with a suffix if that exists).
    static func makeRunDirectory(under out: String) throws -> URL {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date())
        let root = URL(fileURLWithPath: out)
        for attempt in 0..<100 {
            let url = root.appendingPathComponent(attempt == 0 ? stamp : "\(stamp)-\(attempt)")
            guard !FileManager.default.fileExists(atPath: url.path) else { continue }
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url.standardizedFileURL
        }
        throw ToolError("no free run folder name under \(root.path)")
    }
}
