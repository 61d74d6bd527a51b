/// A parsed JSON value that keeps integers exact (`seq` is a uint64, `t_ns` an int64) and keeps
/// booleans apart from numbers, so header validation can say precisely what was wrong.
public indirect enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    /// An integer above `Int64.max`.
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Int64.self) {
            self = .integer(n)
        } else if let n = try? container.decode(UInt64.self) {
            self = .unsigned(n)
        } else if let x = try? container.decode(Double.self) {
            self = .double(x)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .integer(let n): try container.encode(n)
        case .unsigned(let n): try container.encode(n)
        case .double(let x): try container.encode(x)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    /// Short JSON-like rendering for error messages (strings quoted, long values cut).
    ///
    /// Strings come from the network and end up in log lines: every unprintable character is
    /// escaped (``quoted(_:)``), so a header can never start a forged log line or reach a
    /// terminal raw.
    public var description: String {
        let text: String =
            switch self {
            case .null: "null"
            case .bool(let b): "\(b)"
            case .integer(let n): "\(n)"
            case .unsigned(let n): "\(n)"
            case .double(let x): "\(x)"
            case .string(let s): Self.quoted(s)
            case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
            case .object(let o): "{" + o.keys.sorted().map { "\(Self.quoted($0)): \(o[$0]!)" }.joined(separator: ", ") + "}"
            }
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }

    /// Characters with no place in a log line or an id: C0 and C1 controls (newline, ESC, and
    /// U+0085 NEL and U+009B CSI, which terminals and log viewers also act on), format characters
    /// (bidirectional overrides that reorder what is shown), separators and unassigned ones.
    static let unprintable: Set<Unicode.GeneralCategory> = [
        .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
    ]

    /// `text` in double quotes with quotes, backslashes and every ``unprintable`` character
    /// escaped (`\n`, `\u{9B}`). Swift's `debugDescription` leaves C1 controls and format
    /// characters raw (found by fuzzing the frame decoder).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where unprintable.contains(scalar.properties.generalCategory):
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
