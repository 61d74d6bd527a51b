import Foundation

/// Where runs are recorded when `record.dir` is empty: the daemon's state directory.
///
/// In order: `$STATE_DIRECTORY` (set by systemd for `StateDirectory=flowd`: /var/lib/flowd; the
/// first entry when it lists several), else `$XDG_STATE_HOME/flowd` (XDG Base Directory
/// Specification 0.8: state that should persist between restarts), else
/// `~/.local/state/flowd`, that specification's default.
enum RecordDirectory {
    static func resolve(
        configured: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if !configured.isEmpty { return configured }
        if let state = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !state.isEmpty {
            return String(state)
        }
        // The specification ignores relative paths in XDG variables.
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return (xdg as NSString).appendingPathComponent("flowd")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/state/flowd")
    }
}
