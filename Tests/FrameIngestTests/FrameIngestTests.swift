import Foundation
import Logging
import Protocol
import Synchronization
import Testing
import ZeroMQ

@testable import FrameIngest

/// A sender's side of one frame: header and pixels as a Python camera would send them.
private func frameParts(camera: String, seq: UInt64, rows: Int = 4, cols: Int = 4) -> [[UInt8]] {
    let header = FrameHeader(dtype: .uint8, rows: rows, cols: cols, camera: camera, seq: seq)
    return [header.jsonBytes(), Array(repeating: UInt8(seq % 256), count: rows * cols)]
}

/// Polls `condition` for up to 5 s (ZeroMQ delivery is asynchronous).
private func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(5)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}

private let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

private func makeIngest(_ inputs: [InputSpec], settings: IngestSettings, context: ZMQContext) throws -> FrameIngest {
    try FrameIngest(
        inputs: inputs, settings: settings, context: context, malformedLog: RateLimitedLog(logger: quietLogger),
        logger: quietLogger)
}

@Suite("Frame ingest over real ZeroMQ sockets")
struct FrameIngestTests {
    @Test("PUSH frames into a bound PULL input over inproc arrive in order and are counted")
    func pullOverInproc() throws {
        let context = ZMQContext()
        let ingest = try makeIngest([InputSpec(mode: .pull, endpoint: "inproc://frames", binds: true)], settings: IngestSettings(), context: context)
        ingest.start()
        let sender = try ZMQSocket(context: context, kind: .push)
        try sender.connect("inproc://frames")
        for seq in 0..<10 { try sender.send(frameParts(camera: "cam", seq: UInt64(seq))) }

        var seqs: [UInt64] = []
        while seqs.count < 10, let received = ingest.queue.take(timeout: 5) {
            seqs.append(received.frame.header.seq!)
            #expect(received.camera == "cam")
        }
        ingest.stop()
        #expect(seqs == Array(0..<10))
        let counters = try #require(ingest.counters.snapshot(at: 0)["cam"])
        #expect(counters.frames == FrameCounters(received: 10))
        #expect(counters.bytes == 160)
    }

    @Test("a SUB input connects to a camera's PUB over TCP loopback")
    func subOverTCP() throws {
        let context = ZMQContext()
        let camera = try ZMQSocket(context: context, kind: .pub)
        try camera.bind("tcp://127.0.0.1:*")
        let endpoint = try camera.lastEndpoint
        let ingest = try makeIngest([InputSpec(mode: .sub, endpoint: endpoint)], settings: IngestSettings(), context: context)
        ingest.start()
        // PUB drops messages until the subscription has reached it: send until one arrives.
        var seq: UInt64 = 0
        var first: ReceivedFrame?
        while first == nil, seq < 500 {
            try camera.send(frameParts(camera: "tcp-cam", seq: seq))
            seq += 1
            first = ingest.queue.take(timeout: 0.01)
        }
        ingest.stop()
        #expect(first?.camera == "tcp-cam")
    }

    @Test("a REP input answers OK to every message, valid or not, so REQ cameras never stall")
    func repRepliesToEverything() throws {
        let context = ZMQContext()
        let ingest = try makeIngest([InputSpec(mode: .rep, endpoint: "inproc://rep")], settings: IngestSettings(), context: context)
        ingest.start()
        let camera = try ZMQSocket(context: context, kind: .req)
        try camera.setReceiveTimeout(milliseconds: 5000)
        try camera.connect("inproc://rep")
        let reply = ZMQMessage()
        for parts in [frameParts(camera: "req", seq: 0), [Array("garbage".utf8)]] {
            try camera.send(parts)
            #expect(try camera.receive(into: [reply]) == 1)
            #expect(Array(reply.bytes) == Array("OK".utf8))
        }
        ingest.stop()
        let counters = try #require(ingest.counters.snapshot(at: 0)["req"])
        #expect(counters.frames.received == 1)
        #expect(ingest.counters.snapshot(at: 0)["inproc://rep"]?.malformedByReason == ["wrong_part_count": 1])
    }

    @Test("with a full queue, frames are dropped and counted, and every frame is accounted for")
    func dropsWhenFull() throws {
        let context = ZMQContext()
        var settings = IngestSettings()
        settings.queueCapacity = 3
        let ingest = try makeIngest([InputSpec(mode: .pull, endpoint: "inproc://full", binds: true)], settings: settings, context: context)
        ingest.start()
        let sender = try ZMQSocket(context: context, kind: .push)
        try sender.connect("inproc://full")
        for seq in 0..<20 { try sender.send(frameParts(camera: "c", seq: UInt64(seq))) }
        try sender.send([Array("only one part".utf8)])
        #expect(eventually {
            let f = ingest.counters.snapshot(at: 0)["c"]?.frames ?? FrameCounters()
            return f.received + f.dropped == 20
        })
        ingest.stop()
        let counters = ingest.counters.snapshot(at: 0)
        #expect(counters["c"]?.frames == FrameCounters(received: 3, dropped: 17))
        #expect(counters["inproc://full"]?.frames.malformed == 1)
        #expect(ingest.queue.maxDepth == 3, "the high-water mark shows the queue was full")
    }

    @Test("each frame the full queue drops is handed to the dropped hook, after it is counted, and no other frame")
    func droppedFramesReachTheHook() throws {
        let context = ZMQContext()
        var settings = IngestSettings()
        settings.queueCapacity = 3
        let handed = Mutex<[UInt64]>([])
        let ingest = try FrameIngest(
            inputs: [InputSpec(mode: .pull, endpoint: "inproc://hook", binds: true)], settings: settings, context: context,
            malformedLog: RateLimitedLog(logger: quietLogger), logger: quietLogger,
            dropped: { frame in handed.withLock { $0.append(frame.frame.header.seq!) } })
        ingest.start()
        let sender = try ZMQSocket(context: context, kind: .push)
        try sender.connect("inproc://hook")
        for seq in 0..<10 { try sender.send(frameParts(camera: "c", seq: UInt64(seq))) }
        #expect(eventually { handed.withLock { $0.count } == 7 })
        ingest.stop()
        #expect(handed.withLock { $0 } == Array(3..<10), "the queue took seq 0–2; every later one was dropped and handed on")
        #expect(ingest.counters.snapshot(at: 0)["c"]?.frames == FrameCounters(received: 3, dropped: 7))
    }

    @Test("stop() drains what libzmq already holds, closes the queue, and returns promptly")
    func stopDrains() throws {
        let context = ZMQContext()
        let ingest = try makeIngest([InputSpec(mode: .pull, endpoint: "inproc://drain", binds: true)], settings: IngestSettings(), context: context)
        ingest.start()
        let sender = try ZMQSocket(context: context, kind: .push)
        try sender.connect("inproc://drain")
        for seq in 0..<5 { try sender.send(frameParts(camera: "d", seq: UInt64(seq))) }
        // No waiting: frames still inside libzmq when stop() is called must be drained too.
        ingest.stop()
        #expect(ingest.counters.snapshot(at: 0)["d"]?.frames.received == 5)
        #expect(ingest.queue.depth == 5, "queued frames stay for the workers to finish")
        let last = try #require(ingest.queue.take(timeout: 0))
        #expect(ingest.queue.maxDepth == 5, "taking frames leaves the high-water mark")
        #expect(!ingest.queue.offer(last), "a closed queue refuses new frames")
    }

    @Test("an endpoint that cannot be bound fails at construction, naming it")
    func badEndpoint() {
        let context = ZMQContext()
        #expect {
            _ = try makeIngest([InputSpec(mode: .pull, endpoint: "tcp://256.0.0.1:1", binds: true)], settings: IngestSettings(), context: context)
        } throws: { error in
            "\(error)".contains("tcp://256.0.0.1:1")
        }
    }
}

@Suite("Per-camera counters")
struct IngestCountersTests {
    @Test("a jump in seq counts the missing frames as gaps; a restart of seq does not")
    func gaps() {
        let counters = IngestCounters()
        for seq: UInt64 in [0, 1, 5, 6, 0, 1, 3] {
            counters.recordReceived(camera: "c", seq: seq, bytes: 1, at: 0)
        }
        #expect(counters.snapshot(at: 0)["c"]?.frames.gaps == 3 + 1)
    }

    @Test("dropped frames keep the sequence in step, so a drop is not also a gap")
    func dropsAreNotGaps() {
        let counters = IngestCounters()
        counters.recordReceived(camera: "c", seq: 0, bytes: 1, at: 0)
        counters.admit(camera: "c", seq: 1, bytes: 1, at: 0) { _ in false }  // the queue was full
        counters.recordReceived(camera: "c", seq: 2, bytes: 1, at: 0)
        #expect(counters.snapshot(at: 0)["c"]?.frames == FrameCounters(received: 2, dropped: 1, gaps: 0))
    }

    @Test("each camera's received frames get ordinals 0, 1, 2, … without holes: a dropped or rejected frame takes none from the next")
    func ordinals() {
        let counters = IngestCounters()
        var given: [UInt64] = []
        for accept in [true, false, true, true] {
            counters.admit(camera: "c", seq: nil, bytes: 1, at: 0) { place in
                if accept { given.append(place.ordinal) }
                return accept
            }
        }
        counters.recordRejected(camera: "c", reason: "shape_changed")
        given.append(counters.recordReceived(camera: "c", seq: nil, bytes: 1, at: 0).ordinal)
        #expect(given == [0, 1, 2, 3])
        #expect(counters.recordReceived(camera: "d", seq: nil, bytes: 1, at: 0).ordinal == 0)
        let c = counters.snapshot(at: 0)["c"]
        #expect(c?.frames == FrameCounters(received: 4, dropped: 1))
        #expect(c?.rejectedByReason == ["shape_changed": 1])
    }

    @Test("the flow's frame count goes on through dropped frames and the frames a camera's seq skips")
    func flowFrames() {
        let counters = IngestCounters()
        var places: [FramePlace] = []
        for (seq, accept) in [(UInt64(10), true), (11, false), (12, true), (15, true), (3, true)] {
            counters.admit(camera: "c", seq: seq, bytes: 1, at: 0) { place in
                if accept { places.append(place) }
                return accept
            }
        }
        // 11 dropped, 13 and 14 never arrived, 3: the camera restarted (no gap).
        #expect(places.map(\.ordinal) == [0, 1, 2, 3])
        #expect(places.map(\.flowFrame) == [0, 2, 5, 6])
        let huge = counters.recordReceived(camera: "c", seq: .max - 1, bytes: 1, at: 0)
        #expect(huge.flowFrame == 7 + IngestCounters.largestFlowGap)
    }

    @Test("ids beyond max_cameras are pooled under 'other'")
    func boundedCameras() {
        let counters = IngestCounters(maxCameras: 2)
        for id in ["a", "b", "c", "d"] { counters.recordMalformed(camera: id, reason: .badShape, at: 0) }
        let snapshot = counters.snapshot(at: 0)
        #expect(Set(snapshot.keys) == ["a", "b", IngestCounters.overflowCamera])
        #expect(snapshot[IngestCounters.overflowCamera]?.frames.malformed == 2)
    }

    @Test("a valid frame of an unknown camera (beyond max_cameras) is not offered: malformed, unknown_camera, under 'other'")
    func unknownCameraIsRefused() {
        let counters = IngestCounters(maxCameras: 2)
        var offered: [String] = []
        for id in ["a", "b", "c", "a", "d"] {
            let known = counters.admit(camera: id, seq: nil, bytes: 1, at: 0) { _ in
                offered.append(id)
                return true
            }
            #expect(known == ["a", "b"].contains(id))
        }
        #expect(offered == ["a", "b", "a"])
        let snapshot = counters.snapshot(at: 0)
        #expect(snapshot["a"]?.frames == FrameCounters(received: 2))
        #expect(snapshot[IngestCounters.overflowCamera]?.frames == FrameCounters(malformed: 2))
        #expect(snapshot[IngestCounters.overflowCamera]?.malformedByReason == ["unknown_camera": 2])
    }

    @Test("the time since a camera's last message is reported, for stale streams")
    func staleness() {
        let counters = IngestCounters()
        counters.recordReceived(camera: "c", seq: nil, bytes: 1, at: 1_000_000_000)
        #expect(counters.snapshot(at: 3_500_000_000)["c"]?.secondsSinceLastFrame == 2.5)
    }
}
