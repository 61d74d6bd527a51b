import Foundation
import Testing

@testable import FlowDaemon

@Suite("FCS 3.1 event files")
struct FCSWriterTests {
    private func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("flowd-\(UUID()).fcs").path
    }

    @Test("events reach the file at each flush, and the counts describe exactly them")
    func appendAndFlush() throws {
        let path = temporaryPath()
        let writer = try FCSWriter(
            path: path,
            parameters: [.init(name: "time_s", description: "time", range: 1e6), .init(name: "class", description: "class index", range: 3)],
            keywords: [("$CYT", "flowd | holographic")])
        #expect(try readFCS(path).events.isEmpty)
        try writer.append([0.5, 1])
        try writer.append([1.5, 2])
        #expect(try readFCS(path).events.isEmpty, "nothing is on disk before a flush")
        try writer.flush()
        try writer.append([2.5, 0])
        try writer.flush()
        let file = try readFCS(path)
        #expect(file.events == [[0.5, 1], [1.5, 2], [2.5, 0]])
        #expect(file.keywords["$CYT"] == "flowd | holographic")
        #expect(file.keywords["$P2N"] == "class")
        #expect(file.keywords["$DATATYPE"] == "F" && file.keywords["$BYTEORD"] == "1,2,3,4")
    }

    @Test("a reserved keyword is blank until set, keeps its place as it grows, and refuses what does not fit")
    func reservedKeyword() throws {
        let path = temporaryPath()
        let writer = try FCSWriter(
            path: path, parameters: [.init(name: "a", description: "a", range: 1)], keywords: [("$CYT", "x")],
            reserved: [.init(key: "CAMERAS", width: 16)])
        #expect(try readFCS(path).keywords["CAMERAS"] == String(repeating: " ", count: 16))
        try writer.setReserved("CAMERAS", "[\"a|b\"]")
        try writer.append([1])
        try writer.flush()
        try writer.setReserved("CAMERAS", "[\"a|b\",\"c\"]")
        try writer.append([2])
        try writer.flush()
        let file = try readFCS(path)
        #expect(file.keywords["CAMERAS"]?.trimmingCharacters(in: .whitespaces) == "[\"a|b\",\"c\"]")
        #expect(file.keywords["$CYT"] == "x")
        #expect(file.events == [[1], [2]])
        #expect(throws: FCSWriter.WriteError.self) { try writer.setReserved("CAMERAS", String(repeating: "x", count: 17)) }
        #expect(throws: FCSWriter.WriteError.self) { try writer.setReserved("OTHER", "1") }
    }

    @Test("an event with the wrong number of values is refused")
    func wrongEventSize() throws {
        let writer = try FCSWriter(path: temporaryPath(), parameters: [.init(name: "a", description: "a", range: 1)], keywords: [])
        #expect(throws: FCSWriter.WriteError.self) { try writer.append([1, 2]) }
    }

    @Test("an existing file is never overwritten")
    func neverOverwrites() throws {
        let path = temporaryPath()
        _ = try FCSWriter(path: path, parameters: [.init(name: "a", description: "a", range: 1)], keywords: [])
        #expect(throws: FCSWriter.WriteError.self) {
            try FCSWriter(path: path, parameters: [.init(name: "a", description: "a", range: 1)], keywords: [])
        }
    }
}
