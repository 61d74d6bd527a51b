import Foundation

extension Encodable {
    /// Prints the value as one line of JSON with sorted keys: a benchmark's `--json` report,
    /// which the scripts under scripts/ parse.
    func printJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(self), as: UTF8.self))
    }
}
