import Crypto

/// The SHA-256 (FIPS 180-4) of `bytes` as 64 lower-case hex digits, as `sha256sum` prints it: the
/// model hash that run records and fleet roll-outs name (which exact weights classified a run's
/// cells) and the hash of the twin's class-parameter file (which exact distributions drew its
/// cells). swift-crypto computes it (BoringSSL on Linux: Foundation there has no SHA-2).
public func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}
