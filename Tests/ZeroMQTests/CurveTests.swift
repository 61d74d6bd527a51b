import Foundation
import Testing
import ZeroMQ

private func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowd-curve-\(UUID())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

private func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
}

@Suite("CurveZMQ keys and certificate files")
struct CurveKeyTests {
    @Test("libzmq here has CURVE")
    func available() {
        #expect(ZMQSocket.curveAvailable)
    }

    @Test("a generated secret key gives back its public key; two pairs differ")
    func keyPairs() throws {
        let keys = try CurveKeyPair.generate()
        #expect(keys.publicKey.count == 40 && keys.secretKey.count == 40)
        #expect(try CurveKeyPair(secretKey: keys.secretKey) == keys)
        #expect(try CurveKeyPair.generate() != keys)
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "too short") }
    }

    @Test("certificates: the public one 0644, the secret one 0600 from its creation; both read back; never overwritten")
    func certificates() throws {
        let directory = try temporaryDirectory()
        let keys = try CurveKeyPair.generate()
        let (publicPath, secretPath) = try CurveCertificate.write(keys, to: "\(directory)/cam", generator: "a test")
        #expect(publicPath == "\(directory)/cam.key" && secretPath == "\(directory)/cam.key_secret")
        #expect(try mode(publicPath) & 0o077 == 0o044)
        #expect(try mode(secretPath) == 0o600)
        #expect(try CurveCertificate.readSecret(secretPath) == keys)
        #expect(try CurveCertificate.readPublicKeys(publicPath) == [keys.publicKey])
        #expect(try CurveCertificate.readPublicKeys(directory) == [keys.publicKey])
        #expect(!(try String(contentsOfFile: publicPath, encoding: .utf8)).contains(keys.secretKey))
        #expect(throws: CurveCertificate.FileError.self) { try CurveCertificate.write(keys, to: "\(directory)/cam", generator: "") }
    }

    @Test("a secret certificate that others can read is refused, naming the fix")
    func exposedSecret() throws {
        let directory = try temporaryDirectory()
        let (_, secretPath) = try CurveCertificate.write(try CurveKeyPair.generate(), to: "\(directory)/k", generator: "")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secretPath)
        #expect { try CurveCertificate.readSecret(secretPath) } throws: { "\($0)".contains("chmod 600") }
    }

    @Test("a directory without public certificates, a file without a key and a bad key are errors")
    func badAllowLists() throws {
        let directory = try temporaryDirectory()
        #expect { try CurveCertificate.readPublicKeys(directory) } throws: { "\($0)".contains("no public certificate") }
        try "# nothing here\n".write(toFile: "\(directory)/empty.key", atomically: true, encoding: .utf8)
        #expect { try CurveCertificate.readPublicKeys(directory) } throws: { "\($0)".contains("no public-key line") }
        try "public-key = \"not a key\"\n".write(toFile: "\(directory)/empty.key", atomically: true, encoding: .utf8)
        #expect { try CurveCertificate.readPublicKeys(directory) } throws: { "\($0)".contains("not a Z85") }
        #expect(throws: CurveCertificate.FileError.self) { try CurveCertificate.readPublicKeys("\(directory)/missing") }
    }
}
