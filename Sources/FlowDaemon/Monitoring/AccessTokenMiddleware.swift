import Foundation
import Hummingbird

/// The token that a monitoring port beyond loopback requires (`metrics.token_file`): scrapers
/// send it as `Authorization: Bearer TOKEN`; a browser opens `/?token=TOKEN` once and is
/// redirected to the same path with an HttpOnly, SameSite=Strict cookie, so that the token
/// leaves the address bar and the live feed (an EventSource cannot send headers) carries it.
/// Anything else gets 401. Plain HTTP sends the token in clear: beyond a trusted network, put
/// TLS (a reverse proxy) or an SSH tunnel in front (docs/security.md).
struct AccessTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    static var cookieName: String { "flowd_token" }
    let token: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let authorization = request.headers[.authorization], Self.same(authorization, "Bearer " + token) {
            return try await next(request, context)
        }
        if let cookie = request.cookies[Self.cookieName], Self.same(cookie.value, token) {
            return try await next(request, context)
        }
        if let query = request.uri.queryParameters["token"], Self.same(String(query), token) {
            var response = Response(status: .seeOther, headers: [.location: request.uri.path])
            response.setCookie(try .validated(name: Self.cookieName, value: token, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        return Response(
            status: .unauthorized, headers: [.wwwAuthenticate: "Bearer", .contentType: "text/plain"],
            body: .init(byteBuffer: ByteBuffer(string: "a token is required (metrics.token_file): open /?token=TOKEN once, or send Authorization: Bearer TOKEN\n")))
    }

    /// Compares in time independent of where the strings differ (no timing oracle on the token).
    private static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Reads `metrics.token_file`: one line of at least 32 characters from [A-Za-z0-9._~-] (what a
/// cookie and a URL carry unescaped; `openssl rand -hex 32` makes one).
enum AccessToken {
    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    static func load(path: String) throws(LoadError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "metrics.token_file \(path): cannot read the file")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
        guard token.count >= 32, token.unicodeScalars.allSatisfy(allowed.contains) else {
            throw LoadError(
                description: "metrics.token_file \(path): the token must be one line of at least 32 characters "
                    + "from A-Z a-z 0-9 . _ ~ - (make one with: openssl rand -hex 32)")
        }
        return token
    }

    /// The monitoring port's token: required when `listen` is beyond loopback, read when given.
    static func forListen(_ listen: String, tokenFile: String?) throws(LoadError) -> String? {
        if let tokenFile { return try load(path: tokenFile) }
        guard !EndpointExposure.isNetworkReachable("tcp://" + listen) else {
            throw LoadError(
                description: "metrics.listen \(listen) is beyond loopback, so it needs metrics.token_file (a file "
                    + "holding a token such as `openssl rand -hex 32` writes); refusing to start without one (docs/security.md)")
        }
        return nil
    }
}
