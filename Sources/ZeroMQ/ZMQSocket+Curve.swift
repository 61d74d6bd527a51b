import CZeroMQ

/// CurveZMQ (RFC 26) on a socket: encryption and authentication by key. Set before bind or
/// connect; libzmq applies security to new connections only.
///
/// The server and client roles are independent of who binds: flowd is the server on all of its
/// sockets, including a SUB that connects to a camera's PUB. A server alone admits any client
/// that knows its public key; a ``ZAPHandler`` in the same context decides which clients are
/// let in, by the `domain` each server socket is given.
extension ZMQSocket {
    /// Makes this socket a CurveZMQ server with `keys`, its clients checked in `domain` by the
    /// context's ``ZAPHandler``.
    public func makeCurveServer(keys: CurveKeyPair, domain: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setOption(ZMQ_CURVE_SECRETKEY, text: keys.secretKey, "ZMQ_CURVE_SECRETKEY")
        try setOption(ZMQ_ZAP_DOMAIN, text: domain, "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this socket a CurveZMQ client of the server whose public key is `serverKey`,
    /// proving itself with `keys`.
    public func makeCurveClient(keys: CurveKeyPair, serverKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, text: serverKey, "ZMQ_CURVE_SERVERKEY")
        try setOption(ZMQ_CURVE_PUBLICKEY, text: keys.publicKey, "ZMQ_CURVE_PUBLICKEY")
        try setOption(ZMQ_CURVE_SECRETKEY, text: keys.secretKey, "ZMQ_CURVE_SECRETKEY")
    }

    /// Whether this libzmq was built with CurveZMQ (Debian's libzmq5 is, with libsodium).
    public static var curveAvailable: Bool { zmq_has("curve") != 0 }
}
