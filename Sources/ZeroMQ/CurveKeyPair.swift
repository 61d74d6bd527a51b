import CZeroMQ
import Glibc

/// A CurveZMQ key pair (Curve25519, RFC 26), each key written as 40 Z85 characters, the form
/// libzmq, pyzmq and czmq exchange keys in.
///
/// The public key identifies a peer and may be shown to anyone; the secret key proves it and
/// must stay with its owner.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    /// Characters of a Z85-encoded 32-byte key.
    public static let keyLength = 40

    /// A fresh key pair from libzmq's random source.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: keyLength + 1)
        var secretKey = [CChar](repeating: 0, count: keyLength + 1)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw ZMQError("zmq_curve_keypair (is libzmq built with CURVE? zmq_has(\"curve\"))")
        }
        return CurveKeyPair(publicKey: String(nulTerminated: publicKey), secretKey: String(nulTerminated: secretKey))
    }

    /// The pair of `secretKey`: its public key is derived from it.
    public init(secretKey: String) throws(ZMQError) {
        try Self.checkKey(secretKey)
        var publicKey = [CChar](repeating: 0, count: Self.keyLength + 1)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw ZMQError("zmq_curve_public") }
        self.init(publicKey: String(nulTerminated: publicKey), secretKey: secretKey)
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Throws unless `key` is 40 Z85 characters that decode to 32 bytes.
    public static func checkKey(_ key: String) throws(ZMQError) {
        var bytes = [UInt8](repeating: 0, count: 32)
        guard key.utf8.count == keyLength, zmq_z85_decode(&bytes, key) != nil else {
            throw ZMQError("not a Z85-encoded CurveZMQ key (40 characters)", errno: EINVAL)
        }
    }

    /// The Z85 form of a 32-byte binary key, as ZAP requests carry client keys.
    static func z85(_ key: UnsafeRawBufferPointer) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: keyLength + 1)
        let encoded = key.withMemoryRebound(to: UInt8.self) { zmq_z85_encode(&text, $0.baseAddress, 32) }
        return encoded == nil ? nil : String(nulTerminated: text)
    }
}
