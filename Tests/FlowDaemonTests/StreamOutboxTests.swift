import NATS
import Testing

@testable import FlowDaemon

/// The cells waiting for NATS: bounded in number and age, nothing lost without being counted.
@Suite("The NATS outbox")
struct StreamOutboxTests {
    static func message(_ n: Int) -> NATSConnection.Message {
        .init(subject: "flowd.rig.cam.cells", id: "run/cam/\(n)", payload: [UInt8(n)])
    }

    @Test("full: the oldest make room and are counted lost; the newest capacity wait, oldest first")
    func full() {
        var outbox = StreamOutbox(capacity: 3, maxAgeNanoseconds: 1_000)
        for n in 1...5 { outbox.append(Self.message(n), at: 0) }
        #expect(outbox.count == 3 && outbox.lostFull == 2)
        #expect(outbox.oldest(10, at: 0).messages.map(\.id) == ["run/cam/3", "run/cam/4", "run/cam/5"])
    }

    @Test("a message older than the maximum age is given up and counted, not sent")
    func tooOld() {
        var outbox = StreamOutbox(capacity: 10, maxAgeNanoseconds: 1_000)
        outbox.append(Self.message(1), at: 0)
        outbox.append(Self.message(2), at: 900)
        let batch = outbox.oldest(10, at: 1_500)
        #expect(batch.messages.map(\.id) == ["run/cam/2"] && outbox.lostTooOld == 1)
    }

    @Test("a stored batch is removed by sequence: cells queued or dropped meanwhile are never mistaken for it")
    func removeThroughSequence() {
        var outbox = StreamOutbox(capacity: 3, maxAgeNanoseconds: 1_000)
        for n in 1...3 { outbox.append(Self.message(n), at: 0) }
        let batch = outbox.oldest(2, at: 0)  // 1 and 2 in flight
        outbox.append(Self.message(4), at: 0)  // full: 1 falls out
        outbox.remove(through: batch.through)  // 2 was stored
        #expect(outbox.oldest(10, at: 0).messages.map(\.id) == ["run/cam/3", "run/cam/4"])
        #expect(outbox.lostFull == 1 && outbox.abandon() == 2 && outbox.count == 0)
    }
}
