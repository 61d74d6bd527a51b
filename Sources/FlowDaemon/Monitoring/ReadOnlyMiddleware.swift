import Hummingbird

/// The monitoring port changes nothing: any method but GET and HEAD is refused before routing.
struct ReadOnlyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(
                status: .methodNotAllowed, headers: [.allow: "GET, HEAD", .contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "only GET\n")))
        }
        return try await next(request, context)
    }
}
