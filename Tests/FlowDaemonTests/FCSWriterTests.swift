import Foundation
import Testing

@testable import FlowDaemon

/// Reads back what a minimal FCS 3.1 reader needs: TEXT keywords and the float32 events.
private func readFCS(_ path: String) throws -> (keywords: [String: String], events: [[Float]]) {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    #expect(String(decoding: bytes[0..<6], as: UTF8.self) == "FCS3.1")
    func field(_ i: Int) -> Int { Int(String(decoding: bytes[(10 + 8 * i)..<(18 + 8 * i)], as: UTF8.self).trimmingCharacters(in: .whitespaces))! }
    let text = String(decoding: bytes[field(0)...field(1)], as: UTF8.self)
    // A doubled delimiter is a delimiter character inside a value.
    let tokens = text.dropFirst().dropLast().replacingOccurrences(of: "||", with: "\u{0}")
        .split(separator: "|", omittingEmptySubsequences: false).map { $0.replacingOccurrences(of: "\u{0}", with: "|") }
    var keywords: [String: String] = [:]
    for i in stride(from: 0, to: tokens.count - 1, by: 2) { keywords[tokens[i]] = tokens[i + 1] }
    let par = Int(keywords["$PAR"]!)!, tot = Int(keywords["$TOT"]!)!
    let begin = Int(keywords["$BEGINDATA"]!)!
    #expect(field(2) == begin || tot == 0)
    let floats: [Float] = bytes[begin..<(begin + par * tot * 4)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    return (keywords, (0..<tot).map { Array(floats[($0 * par)..<(($0 + 1) * par)]) })
}

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
