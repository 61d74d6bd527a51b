/// CurveZMQ on flowd's sockets (`curve.*` in config/flowd.yaml; docs/security.md).
///
/// Off while ``serverKey`` is empty. On, flowd is the CurveZMQ server on its camera inputs, its
/// result socket and its control socket: traffic is encrypted, and only clients whose public keys
/// are listed for a socket's role get through its handshake.
public struct CurveSettings: Sendable, Equatable {
    /// flowd's secret certificate (`NAME.key_secret` from `flowd keygen`), readable by flowd
    /// only (`curve.server_key`).
    public var serverKey = ""
    /// The public certificate (`*.key`) of each camera allowed to send frames: one file, or a
    /// directory of them (`curve.camera_keys`).
    public var cameraKeys = ""
    /// The public certificates of the subscribers allowed to receive results
    /// (`curve.subscriber_keys`).
    public var subscriberKeys = ""
    /// The public certificates of the operators allowed to send control commands
    /// (`curve.controller_keys`): a role of its own, so that watching never implies controlling.
    public var controllerKeys = ""

    public init() {}

    public var isOn: Bool { !serverKey.isEmpty }
}
