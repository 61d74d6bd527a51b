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

    /// Largest request accepted, bytes (a path and a command fit in far less).
    public static let maxBytes = 64 * 1024

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(command: Command, path: String? = nil) {
        self.command = command
        self.path = path
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
        let allowed: Set<String> = command == .reloadModel ? ["command", "path"] : ["command"]
        if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Invalid(description: "command \(name) takes no field \"\(extra)\"")
        }
        switch fields["path"] {
        case nil:
            self.init(command: command)
        case .string(let path) where !path.isEmpty:
            self.init(command: command, path: path)
        default:
            throw Invalid(description: "\"path\" must be a non-empty string (a model file)")
        }
    }

    /// The request as sent on the wire.
    public var jsonBytes: [UInt8] {
        var fields: [String: JSONValue] = ["command": .string(command.rawValue)]
        if let path { fields["path"] = .string(path) }
        return ControlReply.encode(.object(fields))
    }
}
