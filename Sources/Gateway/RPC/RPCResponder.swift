public import Hummingbird
public import NIOCore
public import Node

/// What the RPC listener knows about a request: Hummingbird's core context and the connection, which a 413 closes
/// once its drain time is up.
public struct RPCRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Turns each HTTP request into an ``RPCRequest`` for the transport-free handler (``NodeRPC``) and its
/// ``RPCResponse`` back into HTTP. The body is read only up to `maxBodyBytes`: a larger one is answered 413 without
/// being held in memory; a target that is not a path, or a query with a malformed escape, is answered 400.
/// `GET /health` is answered here, without reading anything, for liveness checks and benchmarks.
public struct RPCResponder: HTTPResponder {
    public typealias Context = RPCRequestContext

    let maxBodyBytes: Int
    let handler: @Sendable (RPCRequest) async -> RPCResponse

    init(maxBodyBytes: Int, handler: @escaping @Sendable (RPCRequest) async -> RPCResponse) {
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
    }

    /// `{"status":"ok"}`, encoded once.
    static let health = ByteBuffer(bytes: RPCJSON.encode(HealthAnswer()))

    public func respond(to request: Request, context: Context) async throws -> Response {
        let target = request.head.path ?? ""
        if request.method == .get && target == "/health" {
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: Self.health))
        }
        let tooLarge = RPCResponse.refusal(413, code: "too-large", "the request body exceeds \(maxBodyBytes) bytes")
        let body = RequestBodyReader(request.body.makeAsyncIterator())
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            return Self.refuse(tooLarge, draining: body, channel: context.channel)
        }
        var bytes: [UInt8] = []
        while let buffer = try await body.next() {
            guard buffer.readableBytes <= maxBodyBytes - bytes.count else {
                return Self.refuse(tooLarge, draining: body, channel: context.channel)
            }
            bytes += buffer.readableBytesView
        }

        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        guard path.hasPrefix("/") else {
            return Self.response(RPCResponse.refusal(400, code: "bad-request", "the request target must be a path starting with '/'"))
        }
        guard let query = parts.count > 1 ? RPCQuery.decode(parts[1]) : [:] else {
            return Self.response(RPCResponse.refusal(400, code: "bad-request", "the query has a malformed percent-escape or is not UTF-8"))
        }
        return Self.response(await handler(RPCRequest(method: request.method.rawValue, path: path, query: query, body: bytes)))
    }

    static func response(_ answer: RPCResponse) -> Response {
        Response(status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                 body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// Answers `refusal` at once, then reads and discards what the client still sends (for at most
    /// ``RPCLimits/drainTime``, then the connection is closed), so that a client still writing its body reads the
    /// answer instead of a connection reset.
    static func refuse(_ refusal: RPCResponse, draining body: RequestBodyReader, channel: any Channel) -> Response {
        let bytes = ByteBuffer(bytes: refusal.body)
        let drain = ResponseBody(contentLength: bytes.readableBytes) { writer in
            try await writer.write(bytes)
            try await writer.finish(nil)
            let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(RPCLimits.drainTime)) { channel.close(promise: nil) }
            defer { deadline.cancel() }
            while (try? await body.next()) != nil {}
        }
        return Response(status: .init(code: refusal.status), headers: [.contentType: refusal.contentType], body: drain)
    }
}

/// The request body's one iterator, shared by the responder and a 413's drain (which runs after the responder
/// returned). Only one task uses it at a time: the drain starts after the responder stopped reading.
final class RequestBodyReader: @unchecked Sendable {
    private var iterator: RequestBody.AsyncIterator

    init(_ iterator: RequestBody.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> ByteBuffer? { try await iterator.next() }
}
