import Foundation

/// One request on the control socket: a single-part JSON object such as
/// `{"command": "reload-model", "path": "/var/lib/flowd/models/new.safetensors"}`
/// (docs/operations.md). Anything else is refused with a message that says what was expected.
public struct ControlRequest: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        case status
        case newRun = "new-run"
        case reloadModel = "reload-model"
        case snapshot
    }

    public var command: Command
    /// `reload-model` only: the model file; absent: `model.path` in force.
    public var path: String?
    /// `new-run` only: the new run's sample name; absent: `record.sample`.
    public var sample: String?

    /// Largest request accepted, bytes (a path and a command fit in far less).
    public static let maxBytes = 64 * 1024

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The longest sample name, bytes.
    public static let maxSampleBytes = 256

    public init(command: Command, path: String? = nil, sample: String? = nil) {
        self.command = command
        self.path = path
        self.sample = sample
    }

    /// Parses a request's bytes.
    public init(json bytes: [UInt8]) throws(Invalid) {
        let commands = Command.allCases.map(\.rawValue).joined(separator: ", ")
        let usage = "expected a JSON object {\"command\": \"...\"} with command one of \(commands)"
        guard bytes.count <= Self.maxBytes else {
            throw Invalid(description: "request of \(bytes.count) bytes is larger than \(Self.maxBytes)")
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw Invalid(description: "request is not JSON; \(usage)")
        }
        guard case .object(let fields) = value else { throw Invalid(description: "request is not an object; \(usage)") }
        guard case .string(let name)? = fields["command"] else {
            throw Invalid(description: "request has no string \"command\"; \(usage)")
        }
        guard let command = Command(rawValue: name) else {
            throw Invalid(description: "unknown command \"\(name)\"; \(usage)")
        }
        let allowed: Set<String> =
            switch command {
            case .reloadModel: ["command", "path"]
            case .newRun: ["command", "sample"]
            default: ["command"]
            }
        if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Invalid(description: "command \(name) takes no field \"\(extra)\"")
        }
        var path: String?
        switch fields["path"] {
        case nil: break
        case .string(let text) where !text.isEmpty: path = text
        default: throw Invalid(description: "\"path\" must be a non-empty string (a model file)")
        }
        var sample: String?
        switch fields["sample"] {
        case nil: break
        case .string(let text) where Self.sampleProblem(text) == nil: sample = text
        case .string(let text): throw Invalid(description: "\"sample\" \(Self.sampleProblem(text)!)")
        default: throw Invalid(description: "\"sample\" must be a string (the run's sample name)")
        }
        self.init(command: command, path: path, sample: sample)
    }

    /// Why `name` cannot be a sample name (empty, too long, control characters); nil if it can.
    public static func sampleProblem(_ name: String) -> String? {
        if name.trimmingCharacters(in: .whitespaces).isEmpty { return "must not be empty" }
        if name.utf8.count > maxSampleBytes { return "is longer than \(maxSampleBytes) bytes" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        return nil
    }

    /// The request as sent on the wire.
    public var jsonBytes: [UInt8] {
        var fields: [String: JSONValue] = ["command": .string(command.rawValue)]
        if let path { fields["path"] = .string(path) }
        if let sample { fields["sample"] = .string(sample) }
        return ControlReply.encode(.object(fields))
    }
}
