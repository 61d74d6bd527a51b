import ArgumentParser
import Foundation
import Glibc
import Protocol
import Simulator
import ZeroMQ

/// `flowd demo`: the README's main job. The digital twin, as a camera, sends holograms over
/// loopback ZeroMQ to a real `flowd run` child process, whose live `counts` are shown here; at
/// the end every frame sent must be accounted for as received, malformed or dropped.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run flowd against a loopback camera and show its live frame statistics.")

    @Option(help: "Seconds to send frames.")
    var duration: Double = 10

    @Option(help: "Frames per second the camera sends.")
    var rate: Double = 100

    @Option(help: "Frame size, pixels per side.")
    var size: Int = 1024

    @Option(help: "Classifier model file; without it cells are counted but not classified.")
    var model: String = "models/topgan-default.safetensors"

    func run() async throws {
        guard duration > 0, rate > 0, (16...4096).contains(size) else {
            throw ValidationError("--duration and --rate must be positive, --size from 16 to 4096")
        }
        // The digital twin's holograms of flowing cells, up to a second's worth computed up front
        // and replayed with increasing seq, so that the camera keeps up with any --rate.
        var flow = FlowConfiguration()
        (flow.width, flow.height, flow.frameRate) = (size, size, rate)
        var twin = try DigitalTwin(flow: flow, optics: RigOptics())
        print("flowd demo: simulating holograms of flowing cells…")
        let shots = (0..<min(Int(rate.rounded(.up)), 200)).map { _ in twin.nextFrame().frame }

        let inputPort = try freeLoopbackPort(), publishPort = try freeLoopbackPort()
        let input = "tcp://127.0.0.1:\(inputPort)", results = "tcp://127.0.0.1:\(publishPort)"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        daemon.arguments = [
            "run", "--input", "pull+bind:\(input)", "--publish", results, "--set", "publish.counts_interval_s=0.5",
            "--set", "log.level=warning", "--set", "metrics.listen=127.0.0.1:0",
        ]
        if FileManager.default.fileExists(atPath: model) {
            daemon.arguments! += ["--model", model]
        } else {
            print("flowd demo: no model file at \(model); cells are counted but not classified")
        }
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate() } }
        print("flowd demo: flowd run (pid \(daemon.processIdentifier)) receives on \(input), publishes on \(results)")

        let context = ZMQContext()
        let subscriber = try CountsSubscriber(context: context, endpoint: results)
        let camera = try FramePublisher(context: context, kind: .push, endpoint: input, bind: false)
        print("camera: the digital twin, \(size)×\(size) 8-bit holograms at \(Int(rate)) frames/s for \(duration) s\n")

        let start = Date()
        var sent: UInt64 = 0
        var lastShown = start
        var previous: CountsMessage?
        while Date().timeIntervalSince(start) < duration {
            let due = UInt64(Date().timeIntervalSince(start) * rate) + 1
            while sent < due {
                let shot = shots[Int(sent % UInt64(shots.count))]
                var header = shot.header
                (header.seq, header.timeNanoseconds) = (sent, Int64(Date().timeIntervalSince1970 * 1e9))
                try camera.send(Frame(header: header, pixels: shot.pixels))
                sent += 1
            }
            if Date().timeIntervalSince(lastShown) >= 0.5, let counts = try subscriber.next() {
                show(counts, sent: sent, previous: previous)
                previous = counts
                lastShown = Date()
            }
            try await Task.sleep(for: .milliseconds(2))
        }

        // Stop the daemon as systemd would, and read its final counts.
        try await Task.sleep(for: .milliseconds(500))
        kill(daemon.processIdentifier, SIGTERM)
        var final: CountsMessage?
        let deadline = Date().addingTimeInterval(5)
        while final == nil, Date() < deadline {
            if let counts = try subscriber.next(), counts.final { final = counts }
        }
        daemon.waitUntilExit()
        guard let final else {
            throw ValidationError("flowd run did not publish its final counts (exit status \(daemon.terminationStatus))")
        }
        print("")
        show(final, sent: sent, previous: nil)
        let frames = final.frames
        let accounted = frames.received + frames.malformed + frames.dropped
        print("\nsummary: sent \(sent), received \(frames.received), malformed \(frames.malformed), "
            + "dropped \(frames.dropped); flowd exited with status \(daemon.terminationStatus)")
        guard accounted == sent, daemon.terminationStatus == 0 else {
            throw ValidationError("\(sent - min(sent, accounted)) frames unaccounted for")
        }
        print("every frame accounted for.")
    }

    /// One line of live statistics; the rate is taken between two `counts` messages.
    private func show(_ counts: CountsMessage, sent: UInt64, previous: CountsMessage?) {
        let f = counts.frames
        var line = String(
            format: "t=%5.1fs  sent %6d  received %6d  malformed %3d  dropped %5d  gaps %3d",
            counts.uptimeSeconds, sent, f.received, f.malformed, f.dropped, f.gaps)
        if let previous, counts.uptimeSeconds > previous.uptimeSeconds {
            let rate = Double(f.received - previous.frames.received) / (counts.uptimeSeconds - previous.uptimeSeconds)
            let megabytes = counts.cameras.values.reduce(0) { $0 + $1.bytes } / 1_000_000
            line += String(format: "  %6.1f frames/s  %6d MB in", rate, megabytes)
        }
        let byClass = counts.cells.byClass.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        line += "  | cells \(counts.cells.total)" + (byClass.isEmpty ? "" : ": " + byClass.joined(separator: ", "))
        print(line)
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS's pick for port 0).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ValidationError("cannot create a socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw ValidationError("cannot find a free loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
