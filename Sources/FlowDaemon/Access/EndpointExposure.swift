import FlowdConfig
import Foundation

/// Which of flowd's listening sockets other machines can reach, for the start-up warnings of
/// docs/security.md: every socket binds loopback by default, and one that an operator opens to
/// the network without CurveZMQ (or the monitoring port, whose token travels in clear) is said so.
enum EndpointExposure {
    /// `true` for `tcp://` on any address but the loopback ones (127.0.0.0/8, ::1, localhost);
    /// `ipc://` and `inproc://` never leave the machine.
    static func isNetworkReachable(_ endpoint: String) -> Bool {
        guard endpoint.hasPrefix("tcp://") else { return false }
        let address = endpoint.dropFirst("tcp://".count)
        // The host is what precedes the last colon (the port); IPv6 hosts are in brackets.
        let host = address.lastIndex(of: ":").map { address[..<$0] } ?? address
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return !(bare.hasPrefix("127.") || bare == "::1" || bare == "localhost")
    }

    /// One warning per listening socket that the network can reach without authentication.
    static func warnings(_ config: DaemonConfig) -> [String] {
        var warnings: [String] = []
        if !config.curve.isOn {
            for input in config.inputs where input.binds && isNetworkReachable(input.endpoint) {
                warnings.append(
                    "input \(input) listens beyond this machine without CurveZMQ: anyone who reaches it can send "
                        + "frames (set curve.server_key and curve.camera_keys; docs/security.md)")
            }
            if isNetworkReachable(config.publishEndpoint) {
                warnings.append(
                    "publish.endpoint \(config.publishEndpoint) listens beyond this machine without CurveZMQ: anyone who "
                        + "reaches it can read every cell and count (set curve.server_key and curve.subscriber_keys)")
            }
            if let control = config.controlEndpoint, isNetworkReachable(control) {
                warnings.append(
                    "control.endpoint \(control) listens beyond this machine without CurveZMQ: anyone who reaches it "
                        + "can start runs and swap the model (set curve.server_key and curve.controller_keys)")
            }
        }
        // Whatever curve.* says: the detections' socket has no CurveZMQ yet (docs/scale-out.md).
        if config.scaleOut.role == .aggregator, isNetworkReachable(config.scaleOut.listen) {
            warnings.append(
                "scale_out.listen \(config.scaleOut.listen) listens beyond this machine without authentication: anyone "
                    + "who reaches it can send detections that become counted cells (keep it on a private network "
                    + "or firewall it to the workers; docs/scale-out.md)")
        }
        if let listen = config.metricsListen, isNetworkReachable("tcp://" + listen) {
            warnings.append(
                "metrics.listen \(listen) listens beyond this machine: every request needs the token of "
                    + "metrics.token_file, which plain HTTP sends in clear (put TLS or an SSH tunnel in front; docs/security.md)")
        }
        return warnings
    }
}
