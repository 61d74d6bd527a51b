import Foundation
import Protocol
import Testing

@Suite("The cell message v1")
struct CellMessageTests {
    static let message = CellMessage(
        camera: "cam0", cellID: 7, seq: 1234, tNanoseconds: 1_700_000_000_000_000_000, xPixels: 512.5, yPixels: 300.25,
        bbox: [480, 270, 64, 61], label: "healthy", probabilities: ["healthy": 0.9, "primary": 0.1],
        features: ["area_um2": 110.5, "dry_mass_pg": 42, "aspect_ratio": .nan], framesSeen: 5, latencyMilliseconds: 3.5)

    @Test("is JSON with the documented snake_case keys and v = 1")
    func keys() throws {
        let json = try #require(JSONSerialization.jsonObject(with: Data(Self.message.jsonBytes())) as? [String: Any])
        #expect(json["v"] as? Int == 1)
        #expect(Set(json.keys) == [
            "v", "camera", "cell_id", "seq", "t_ns", "x_px", "y_px", "bbox", "label", "probabilities", "features",
            "frames_seen", "latency_ms",
        ])
        #expect(json["cell_id"] as? Int == 7)
        #expect(json["bbox"] as? [Int] == [480, 270, 64, 61])
    }

    @Test("leaves non-finite features out, so the JSON is always valid")
    func nonFinite() throws {
        let decoded = try JSONDecoder().decode(CellMessage.self, from: Data(Self.message.jsonBytes()))
        #expect(decoded == Self.message)
        #expect(decoded.features["aspect_ratio"] == nil)
    }

    @Test("a camera without seq or t_ns gives null for them")
    func optionalHeaderFields() throws {
        var message = Self.message
        message.seq = nil
        message.tNanoseconds = nil
        let text = String(decoding: message.jsonBytes(), as: UTF8.self)
        #expect(!text.contains("\"seq\"") || text.contains("\"seq\":null"))
        #expect(try JSONDecoder().decode(CellMessage.self, from: Data(message.jsonBytes())) == message)
    }
}
