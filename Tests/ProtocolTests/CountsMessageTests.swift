import Foundation
import Testing

@testable import Protocol

@Suite("The counts message")
struct CountsMessageTests {
    @Test("totals are the sum over cameras, and every camera's keys are flat")
    func totalsAndLayout() throws {
        let cameras = [
            "a": CameraCounters(frames: .init(received: 5, malformed: 1, dropped: 2, gaps: 3), malformedByReason: ["bad_shape": 1], bytes: 10),
            "b": CameraCounters(frames: .init(received: 1), bytes: 4, secondsSinceLastFrame: 0.5),
        ]
        let message = CountsMessage(uptimeSeconds: 2, cameras: cameras)
        #expect(message.frames == FrameCounters(received: 6, malformed: 1, dropped: 2, gaps: 3))
        let json = try #require(JSONSerialization.jsonObject(with: Data(message.jsonBytes())) as? [String: Any])
        #expect(json["v"] as? Int == 1)
        let a = try #require((json["cameras"] as? [String: Any])?["a"] as? [String: Any])
        #expect(a["received"] as? Int == 5)
        #expect((a["malformed_by_reason"] as? [String: Int]) == ["bad_shape": 1])
        #expect(try JSONDecoder().decode(CountsMessage.self, from: Data(message.jsonBytes())) == message)
    }

    @Test("cells: total, per label and rate, next to the unchanged v1 frame fields")
    func cells() throws {
        let cells = CellCounts(total: 5, byClass: ["healthy": 3, "unknown": 2], perSecond: 2.5)
        let message = CountsMessage(uptimeSeconds: 2, cameras: [:], cells: cells)
        let json = try #require(JSONSerialization.jsonObject(with: Data(message.jsonBytes())) as? [String: Any])
        #expect(Set(json.keys) == ["v", "uptime_s", "frames", "cameras", "final", "cells"])
        let object = try #require(json["cells"] as? [String: Any])
        #expect(object["total"] as? Int == 5)
        #expect(object["by_class"] as? [String: Int] == ["healthy": 3, "unknown": 2])
        #expect(object["per_second"] as? Double == 2.5)
        #expect(try JSONDecoder().decode(CountsMessage.self, from: Data(message.jsonBytes())) == message)
    }
}
