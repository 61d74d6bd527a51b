import Foundation
import Testing

/// Reads back what a minimal FCS 3.1 reader needs: TEXT keywords and the float32 events.
func readFCS(_ path: String) throws -> (keywords: [String: String], events: [[Float]]) {
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
