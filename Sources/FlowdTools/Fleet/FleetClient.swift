import FlowDaemon
import Foundation
import NATS

/// `flowd fleet status`, `watch` and `deploy`: every rig that streams to a NATS server
/// (docs/scale-out.md), from its key-value bucket, and the model they run (``ModelRollout``).
public struct FleetClient: Sendable {
    /// How long the tools wait for the server before they give up.
    public static let connectTimeoutSeconds = 3.0

    let connection: NATSConnection
    let bucket: String

    /// Connects to `url` (with the rigs' `nats.credentials` and `nats.tls_ca`, if any), or throws
    /// a ``ToolError`` that names it.
    public init(url: String, bucket: String, credentialsFile: String? = nil, trustedCAFile: String? = nil) throws {
        connection = try NATSConnection(
            url: url, name: "flowd fleet", credentialsFile: credentialsFile, trustedCAFile: trustedCAFile)
        let deadline = Date().addingTimeInterval(Self.connectTimeoutSeconds)
        while !connection.isConnected {
            guard Date() < deadline else {
                throw ToolError("cannot reach NATS at \(url) within \(Int(Self.connectTimeoutSeconds)) s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        self.bucket = bucket
    }

    public func snapshot() throws -> FleetSnapshot { try FleetSnapshot.read(connection, bucket: bucket) }

    /// The snapshot as JSON (`flowd fleet status --json`).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(snapshot()), as: UTF8.self)
    }

    /// Prints the snapshot every `interval` seconds until Ctrl-C or `duration`: redrawn in place
    /// on a terminal, one block per turn otherwise.
    public func watch(interval: Double, duration: Double?) throws {
        let stop = StopSignals()
        let terminal = isatty(STDOUT_FILENO) == 1
        let end = duration.map { Date().addingTimeInterval($0) }
        while !stop.isRequested {
            let lines = try snapshot().table
            let stamp = ISO8601DateFormatter().string(from: Date())
            print((terminal ? "\u{1B}[H\u{1B}[2J" : "") + "fleet (bucket \(bucket)) at \(stamp)\n" + lines.joined(separator: "\n"))
            fflush(nil)
            if let end, Date() >= end { return }
            var waited = 0.0
            while waited < interval, !stop.isRequested {
                Thread.sleep(forTimeInterval: 0.05)
                waited += 0.05
            }
        }
    }

    /// Pins the model file `path` for `rigs` (every rig with a heartbeat in the bucket when
    /// empty), then waits up to `waitSeconds` until each has it in service. Prints what happens;
    /// throws when a rig did not take it in time.
    public func deploy(model path: String, rigs named: [String], waitSeconds: Double) throws {
        let rigs = named.isEmpty ? try snapshot().rigs.filter { $0.heartbeat != nil }.map(\.rig) : named
        guard !rigs.isEmpty else {
            throw ToolError("no rig has reported to the bucket \(bucket); name them with --rig")
        }
        let pin = try ModelRollout.deploy(path, rigs: rigs, through: connection, bucket: bucket)
        print("model \(pin.name) (sha256 \(pin.sha256), \(pin.bytes) bytes in \(pin.chunks) chunks) pinned for \(rigs.joined(separator: ", "))")
        var waiting = Set(rigs)
        let deadline = Date().addingTimeInterval(waitSeconds)
        while !waiting.isEmpty {
            for rig in waiting.sorted() {
                guard let bytes = try connection.value(key: "\(rig).model_in_service", bucket: bucket),
                    let serving = try? JSONDecoder().decode(ModelRollout.Pin.self, from: Data(bytes)),
                    serving.sha256 == pin.sha256
                else { continue }
                print("\(rig): in service")
                waiting.remove(rig)
            }
            guard !waiting.isEmpty else { break }
            guard Date() < deadline else {
                throw ToolError(
                    "not in service after \(Int(waitSeconds)) s on \(waiting.sorted().joined(separator: ", ")) (their logs say why; the pin stays)")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}
