import Foundation
import Testing
import ZeroMQ

/// A CURVE server socket in `domain` and the context's ZAP handler admitting `allowed` there.
private struct Server {
    let context = ZMQContext()
    let keys: CurveKeyPair
    let zap: ZAPHandler
    let socket: ZMQSocket
    let endpoint: String

    init(kind: ZMQSocket.Kind, domain: String, allowed: [String: Set<String>]) throws {
        keys = try CurveKeyPair.generate()
        zap = try ZAPHandler(context: context, allowed: allowed)
        zap.start()
        socket = try ZMQSocket(context: context, kind: kind)
        try socket.makeCurveServer(keys: keys, domain: domain)
        try socket.setReceiveTimeout(milliseconds: 5000)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = try socket.lastEndpoint
    }

    func client(_ kind: ZMQSocket.Kind, keys: CurveKeyPair?) throws -> ZMQSocket {
        let client = try ZMQSocket(context: context, kind: kind)
        if let keys { try client.makeCurveClient(keys: keys, serverKey: self.keys.publicKey) }
        try client.setReceiveTimeout(milliseconds: 300)
        try client.connect(endpoint)
        return client
    }

    /// Waits (up to 5 s) until the handler has refused `count` handshakes in `domain`.
    func waitForRefusals(_ count: UInt64, in domain: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if (zap.tally()[domain]?.refused ?? 0) >= count { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    func close(_ clients: ZMQSocket...) {
        for client in clients { client.close() }
        socket.close()
        zap.stop()
        context.terminate()
    }
}

private func receiveText(_ socket: ZMQSocket) -> String? {
    let parts = [ZMQMessage()]
    guard (try? socket.receive(into: parts)) != nil else { return nil }
    return String(decoding: parts[0].bytes, as: UTF8.self)
}

@Suite("CurveZMQ with a ZAP allow-list: only listed client keys get in")
struct ZAPHandlerTests {
    @Test("data socket: a listed client's messages arrive; an unlisted key's and a plain client's never do")
    func dataSocket() throws {
        let camera = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let server = try Server(kind: .pull, domain: "cameras", allowed: ["cameras": [camera.publicKey]])
        let refusedClient = try server.client(.push, keys: stranger)
        let plainClient = try server.client(.push, keys: nil)
        try refusedClient.send([Array("from the stranger".utf8)], wait: false)
        try plainClient.send([Array("in plain text".utf8)], wait: false)
        #expect(server.waitForRefusals(1, in: "cameras"))
        let allowedClient = try server.client(.push, keys: camera)
        try allowedClient.send([Array("from the camera".utf8)])
        #expect(receiveText(server.socket) == "from the camera")
        try server.socket.setReceiveTimeout(milliseconds: 300)
        #expect(receiveText(server.socket) == nil, "nothing else may arrive")
        #expect(server.zap.tally()["cameras"] == ZAPHandler.Tally(admitted: 1, refused: 1))
        server.close(refusedClient, plainClient, allowedClient)
    }

    @Test("result socket: a listed subscriber receives; an unlisted one receives nothing")
    func resultSocket() throws {
        let watcher = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let server = try Server(kind: .pub, domain: "subscribers", allowed: ["subscribers": [watcher.publicKey]])
        let listed = try server.client(.sub, keys: watcher), unlisted = try server.client(.sub, keys: stranger)
        try listed.subscribe()
        try unlisted.subscribe()
        #expect(server.waitForRefusals(1, in: "subscribers"))
        // PUB drops messages until the subscription arrives: publish until the listed one hears.
        var heard: String?
        for i in 0..<100 where heard == nil {
            try server.socket.send([Array("counts \(i)".utf8)], wait: false)
            heard = receiveText(listed)
        }
        #expect(heard != nil)
        #expect(receiveText(unlisted) == nil)
        server.close(listed, unlisted)
    }

    @Test("control-style REP socket: a key listed for another domain gets no reply, so it can change nothing")
    func controlSocket() throws {
        let operatorKey = try CurveKeyPair.generate(), watcher = try CurveKeyPair.generate()
        let server = try Server(
            kind: .rep, domain: "controllers",
            allowed: ["controllers": [operatorKey.publicKey], "subscribers": [watcher.publicKey]])
        let intruder = try server.client(.req, keys: watcher)
        try intruder.send([Array("reload".utf8)], wait: false)
        #expect(server.waitForRefusals(1, in: "controllers"))
        let owner = try server.client(.req, keys: operatorKey)
        try owner.send([Array("status".utf8)])
        #expect(receiveText(server.socket) == "status", "the first request the server sees is the operator's")
        try server.socket.send([Array("ok".utf8)])
        #expect(receiveText(owner) == "ok")
        #expect(receiveText(intruder) == nil)
        server.close(intruder, owner)
    }
}
