import ArgumentParser
import ZeroMQ

/// `flowd keygen`: a CurveZMQ key pair for flowd or for one of its clients (docs/security.md).
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a CurveZMQ key pair: NAME.key (public) and NAME.key_secret (secret, mode 0600).",
        discussion: """
            The files are czmq/pyzmq certificates: zmq.auth.load_certificate() reads them in a Python \
            camera script. Give NAME.key to the peers; NAME.key_secret stays where it was made. flowd's \
            own pair: curve.server_key = its .key_secret, and each client gets its .key. A client's pair: \
            list its .key in curve.camera_keys or curve.subscriber_keys. Existing files are never overwritten.
            """)

    @Argument(help: "Path and base name of the two files, e.g. /etc/flowd/curve/flowd or cam-1.")
    var name: String

    func run() throws {
        let keys = try CurveKeyPair.generate()
        let files = try CurveCertificate.write(keys, to: name, generator: "flowd keygen")
        print("public key \(keys.publicKey)")
        print("  \(files.public)  public certificate: give it to the peers that must recognise this key")
        print("  \(files.secret)  secret certificate (mode 0600): keep it here")
    }
}
