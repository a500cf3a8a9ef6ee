import NIOCore
import NIOHTTP1
import NIOPosix

/// The node's HTTP/1.1 RPC listener, on a loopback address only. One request per connection: each connection is a
/// child task that reads the request, runs the handler and writes its response with `Content-Length`, then closes.
/// Call ``stop()`` when done: the listener otherwise runs until the process exits.
public final class RPCServer: Sendable {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// The bound port.
    public let port: Int
    private let listener: any Channel
    private let serving: Task<Void, Never>

    private init(port: Int, listener: any Channel, serving: Task<Void, Never>) {
        self.port = port
        self.listener = listener
        self.serving = serving
    }

    /// Binds host:port (port 0 = any free port) and serves each request with `handler`. Only loopback hosts are
    /// accepted ("127.0.0.1", "::1", "localhost"); anything else throws RPCError.
    ///
    /// A request whose body exceeds `maxBodyBytes` is answered 413 without being read into memory; malformed HTTP
    /// is answered 400.
    public static func start(
        host: String = "127.0.0.1", port: Int, maxBodyBytes: Int = 16 << 20,
        handler: @escaping @Sendable (RPCRequest) async -> RPCResponse
    ) async throws -> RPCServer {
        guard RPCLimits.loopbackHosts.contains(host) else {
            throw RPCError(.notLoopback, "the RPC listens on 127.0.0.1, ::1 or localhost only, not '\(host)'")
        }
        guard (0...65535).contains(port) else { throw RPCError(.bindFailed, "\(port) is not a TCP port") }

        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: RPCLimits.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: false, withErrorHandling: true)
                        return try Connection(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
        } catch {
            throw RPCError(.bindFailed, "cannot listen on \(hostPort(host, port)): \(error)")
        }
        guard let boundPort = listener.channel.localAddress?.port else {
            listener.channel.close(promise: nil)
            throw RPCError(.bindFailed, "cannot listen on \(hostPort(host, port)): no local address")
        }

        let serving = Task {
            // Ends when the listener closes (stop()) and every connection has been answered or cancelled.
            _ = try? await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection, maxBodyBytes: maxBodyBytes, handler: handler) }
                    }
                }
            }
        }
        return RPCServer(port: boundPort, listener: listener.channel, serving: serving)
    }

    /// Stops accepting connections, lets requests in flight finish for up to ``RPCLimits/stopGracePeriod``, then
    /// cancels their handlers. Calling it again does nothing.
    public func stop() async throws {
        do {
            try await listener.close()
        } catch ChannelError.alreadyClosed {
            // Already stopped.
        }
        let serving = self.serving
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await serving.value }
            group.addTask { try? await Task.sleep(for: RPCLimits.stopGracePeriod) }
            await group.next()
            serving.cancel()
            group.cancelAll()
        }
    }

    /// Reads one request from `connection`, answers it, and closes the connection.
    private static func serve(
        _ connection: Connection, maxBodyBytes: Int, handler: @Sendable (RPCRequest) async -> RPCResponse
    ) async {
        // Errors here are the client going away or malformed HTTP, which NIO has already answered with 400.
        try? await connection.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            guard case .head(let head)? = try await parts.next() else { return }

            let tooLarge = RPCResponse.error(413, "the request body exceeds \(maxBodyBytes) bytes")
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > maxBodyBytes {
                try await refuse(tooLarge, connection: connection, parts: &parts, outbound: outbound)
                return
            }
            var body: [UInt8] = []
            var complete = false
            reading: while let part = try await parts.next() {
                switch part {
                case .head:
                    return  // cannot happen: the decoder sends a request's end before the next head
                case .body(var buffer):
                    guard buffer.readableBytes <= maxBodyBytes - body.count else {
                        try await refuse(tooLarge, connection: connection, parts: &parts, outbound: outbound)
                        return
                    }
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                case .end:
                    complete = true
                    break reading
                }
            }
            guard complete else { return }  // the client closed mid-request: nobody to answer

            let target = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = target.first.map(String.init) ?? ""
            guard path.hasPrefix("/") else {
                try await write(RPCResponse.error(400, "the request target must be a path starting with '/'"), to: outbound)
                return
            }
            guard let query = target.count > 1 ? RPCQuery.decode(target[1]) : [:] else {
                try await write(RPCResponse.error(400, "the query has a malformed percent-escape or is not UTF-8"), to: outbound)
                return
            }
            let response = await handler(RPCRequest(method: head.method.rawValue, path: path, query: query, body: body))
            try await write(response, to: outbound)
        }
    }

    /// Answers `response`, half-closes, and discards what the client still sends (for at most
    /// ``RPCLimits/drainTime``), so that the client reads the answer instead of a connection reset.
    private static func refuse(
        _ response: RPCResponse, connection: Connection,
        parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        try await write(response, to: outbound)
        outbound.finish()
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(RPCLimits.drainTime)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        while try await parts.next() != nil {}
    }

    private static func write(_ response: RPCResponse, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        var parts: [HTTPServerResponsePart] = [.head(head)]
        if !response.body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
    }
}

/// `host:port`, with an IPv6 host in brackets.
func hostPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
