import ZeroMQ

/// A CurveZMQ client's key pair and the public key of the flowd it talks to
/// (``ZMQSocket/makeCurveClient(keys:serverKey:)``): what a camera, a subscriber or a controller
/// of a flowd with `curve.server_key` set connects with.
public typealias CurveClientKeys = (keys: CurveKeyPair, serverKey: String)
