import Foundation
import NATS
import Protocol

/// What the fleet's key-value bucket says about each rig (docs/scale-out.md): its latest counts
/// and heartbeat, as `flowd fleet status` and `flowd fleet watch` show them.
public struct FleetSnapshot: Sendable, Encodable {
    public struct Rig: Sendable, Encodable {
        public var rig: String
        /// Seconds since its last heartbeat; nil without one.
        public var heartbeatAgeSeconds: Double?
        /// No heartbeat for longer than ``FleetSnapshot/staleAfterSeconds``, or its final counts
        /// (the daemon stopped).
        public var stopped: Bool
        public var counts: CountsMessage?
        /// The heartbeat as the daemon wrote it (`cells_stored`, `cells_buffered`, `cells_lost`).
        public var heartbeat: JSONValue?

        enum CodingKeys: String, CodingKey {
            case rig, stopped, counts, heartbeat
            case heartbeatAgeSeconds = "heartbeat_age_s"
        }
    }

    /// A daemon beats once a second while it runs.
    public static let staleAfterSeconds = 5.0

    public var rigs: [Rig]

    /// Reads the bucket through `connection` (`<rig>.counts`, `<rig>.heartbeat`).
    public static func read(_ connection: NATSConnection, bucket: String, now: Date = Date()) throws(NATSError) -> FleetSnapshot {
        let values = try connection.values(bucket: bucket)
        var rigs: [String: Rig] = [:]
        for (key, bytes) in values {
            guard let dot = key.lastIndex(of: ".") else { continue }
            let name = String(key[..<dot])
            var rig = rigs[name] ?? Rig(rig: name, heartbeatAgeSeconds: nil, stopped: true)
            switch key[key.index(after: dot)...] {
            case "counts": rig.counts = try? JSONDecoder().decode(CountsMessage.self, from: Data(bytes))
            case "heartbeat":
                rig.heartbeat = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
                if case .object(let fields)? = rig.heartbeat, let time = number(fields["time_unix"]) {
                    rig.heartbeatAgeSeconds = max(0, now.timeIntervalSince1970 - time)
                }
            default: continue
            }
            rigs[name] = rig
        }
        return FleetSnapshot(
            rigs: rigs.values.map { rig in
                var rig = rig
                rig.stopped = (rig.heartbeatAgeSeconds ?? .infinity) > staleAfterSeconds || rig.counts?.final == true
                return rig
            }.sorted { $0.rig < $1.rig })
    }

    /// One line per rig and camera, for a terminal.
    public var table: [String] {
        guard !rigs.isEmpty else { return ["no rig has reported to this bucket"] }
        var lines: [String] = []
        for rig in rigs {
            var line = "\(rig.rig): " + (rig.stopped ? "stopped" : "running")
            if let age = rig.heartbeatAgeSeconds { line += String(format: ", heartbeat %.0f s ago", age) }
            if let counts = rig.counts {
                line += String(format: ", up %.0f s; cells \(counts.cells.total) (%.1f/s)", counts.uptimeSeconds, counts.cells.perSecond)
                for (label, n) in counts.cells.byClass.sorted(by: { $0.key < $1.key }) { line += ", \(label) \(n)" }
            }
            if case .object(let beat)? = rig.heartbeat, let stored = number(beat["cells_stored"]),
                let buffered = number(beat["cells_buffered"])
            {
                line += String(format: "; stream: %.0f stored, %.0f waiting", stored, buffered)
                if case .object(let lost)? = beat["cells_lost"] {
                    let total = lost.values.compactMap(number).reduce(0, +)
                    if total > 0 { line += String(format: ", %.0f lost", total) }
                }
            }
            lines.append(line)
            for (camera, counters) in (rig.counts?.cameras ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append("  \(camera): frames \(counters.frames.received), dropped \(counters.frames.dropped)")
            }
        }
        return lines
    }
}

/// A JSON number as a Double; nil for anything else.
private func number(_ value: JSONValue?) -> Double? {
    switch value {
    case .integer(let n)?: Double(n)
    case .unsigned(let n)?: Double(n)
    case .double(let x)?: x
    default: nil
    }
}
