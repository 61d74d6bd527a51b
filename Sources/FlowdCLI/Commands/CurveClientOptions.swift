import ArgumentParser
import FlowdTools
import ZeroMQ

/// Command-line keys of a CurveZMQ client of flowd, for commands that talk to a daemon with
/// `curve.server_key` set: `flowd simulate --publish` is a camera, `flowd watch` a subscriber,
/// `flowd control` a controller; flowd admits each key only in the role it is listed for.
struct CurveClientOptions: ParsableArguments {
    @Option(help: "flowd's public certificate (NAME.key from flowd keygen): connect as a CurveZMQ client.")
    var curveServerKey: String?

    @Option(help: "This client's secret certificate (NAME.key_secret); flowd must list its NAME.key.")
    var curveKey: String?

    func validate() throws {
        guard (curveServerKey == nil) == (curveKey == nil) else {
            throw ValidationError("--curve-server-key and --curve-key go together")
        }
    }

    /// The client's key pair and the server's public key; `nil` without the options.
    func keys() throws -> CurveClientKeys? {
        guard let curveServerKey, let curveKey else { return nil }
        let serverKeys = try CurveCertificate.readPublicKeys(curveServerKey)
        guard serverKeys.count == 1, let serverKey = serverKeys.first else {
            throw ValidationError("--curve-server-key must be one public certificate, not a directory of \(serverKeys.count)")
        }
        return (try CurveCertificate.readSecret(curveKey), serverKey)
    }
}
