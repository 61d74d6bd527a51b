import Dispatch
import FlowdConfig
import FrameIngest
import ZeroMQ

/// The keys of `curve.*`, loaded and checked at start-up: flowd's key pair, and per role (the ZAP
/// domain of the sockets of that role) the client keys to admit.
struct CurveAccess: Sendable {
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    let keys: CurveKeyPair
    /// ZAP domain → Z85 public keys of the clients admitted there.
    let allowed: [String: Set<String>]

    /// Each role: the ZAP domain of its sockets, and the config key and setting of its allow-list.
    /// The one list of roles: a role missing here would admit no one on its sockets.
    static func roles(_ settings: CurveSettings) -> [(domain: String, key: String, path: String)] {
        [
            (FrameIngest.curveDomain, "curve.camera_keys", settings.cameraKeys),
            (ResultPublisher.curveDomain, "curve.subscriber_keys", settings.subscriberKeys),
            (ControlServer.curveDomain, "curve.controller_keys", settings.controllerKeys),
        ]
    }

    /// `nil` when Curve is off (`curve.server_key` empty). Throws when a key file is missing,
    /// unreadable, exposed, or malformed, or when an allow-list is missing: a half-configured
    /// Curve must stop the daemon, not leave a socket open that the operator believes closed.
    static func load(_ settings: CurveSettings) throws(SetupError) -> CurveAccess? {
        let roles = roles(settings)
        guard settings.isOn else {
            for role in roles where !role.path.isEmpty {
                throw SetupError(
                    description: "\(role.key) is set, but curve.server_key is empty, so CurveZMQ is off; "
                        + "set curve.server_key (flowd keygen NAME makes one)")
            }
            return nil
        }
        guard ZMQSocket.curveAvailable else {
            throw SetupError(description: "curve.server_key is set, but this libzmq has no CURVE support")
        }
        for role in roles where role.path.isEmpty {
            throw SetupError(
                description: "CurveZMQ is on (curve.server_key), so \(role.key) must name the allowed clients' public "
                    + "certificates (a *.key file or a directory of them)")
        }
        do {
            let keys = try CurveCertificate.readSecret(settings.serverKey)
            var allowed: [String: Set<String>] = [:]
            for role in roles { allowed[role.domain] = try CurveCertificate.readPublicKeys(role.path) }
            return CurveAccess(keys: keys, allowed: allowed)
        } catch {
            throw SetupError(description: error.description)
        }
    }

    /// The context's ZAP handler for these allow-lists; each refused client is logged (at most
    /// `refusals`' burst per role and window) with its address and key.
    func handler(context: ZMQContext, refusals: RateLimitedLog) throws(ZMQError) -> ZAPHandler {
        try ZAPHandler(context: context, allowed: allowed) { decision in
            guard !decision.admitted else { return }
            let message = "refused a CurveZMQ client of the \(decision.domain) socket(s) from \(decision.address): "
                + "key \(decision.client) is not on its allow-list"
            refusals.warning(key: "curve/\(decision.domain)", "\(message)", at: DispatchTime.now().uptimeNanoseconds)
        }
    }
}
