import Foundation

/// Replies of the control socket: a JSON object with `"ok": true` and the command's fields, or
/// `"ok": false` and `"error"` saying why.
public enum ControlReply {
    public static func success(_ fields: [String: JSONValue]) -> [UInt8] {
        encode(.object(fields.merging(["ok": .bool(true)]) { $1 }))
    }

    public static func failure(_ message: String) -> [UInt8] {
        encode(.object(["ok": .bool(false), "error": .string(message)]))
    }

    /// `value` as JSON, keys sorted.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // JSONValue holds finite numbers only here (counts, ids, paths), so encoding succeeds;
        // should it not, the reply still says so in JSON.
        guard let data = try? encoder.encode(value) else {
            return Array(#"{"error":"the reply could not be encoded as JSON","ok":false}"#.utf8)
        }
        return Array(data)
    }

    /// A Codable value (a counts message, run metadata) as a JSON value, to embed in a reply.
    public static func value<T: Encodable>(_ encodable: T) -> JSONValue {
        guard let data = try? JSONEncoder().encode(encodable),
            let value = try? JSONDecoder().decode(JSONValue.self, from: data)
        else { return .null }
        return value
    }
}
