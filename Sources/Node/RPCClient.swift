import NIOCore
import NIOHTTP1
import NIOPosix

/// Calls a node's RPC: one HTTP/1.1 request per connection (`Connection: close`).
public enum RPCClient {
    private typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Sends one request to the node at host:port and returns its response. Throws RPCError.unreachable (with
    /// host:port in the message) when nothing listens, RPCError.timeout after `timeout` seconds.
    public static func send(
        host: String = "127.0.0.1", port: Int, method: String, path: String, query: [String: String] = [:],
        body: [UInt8] = [], timeout: Double = 30
    ) async throws -> RPCResponse {
        let address = hostPort(host, port)
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenCharacter) else {
            throw RPCError(.invalidRequest, "'\(method)' is not an HTTP method")
        }
        // RFC 3986 §3.3: printable ASCII; the query goes in `query`.
        guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }) else {
            throw RPCError(.invalidRequest, "the path '\(path)' must start with '/' and be printable ASCII without '?' or '#'")
        }
        guard timeout > 0 else { throw RPCError(.invalidRequest, "the timeout must be positive, not \(timeout)") }
        let limit = TimeAmount.nanoseconds(Int64(min(timeout, 1e9) * 1e9))
        let deadline = NIODeadline.now() + limit

        let connection: Connection
        do {
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(limit)
            let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
            // An IP literal (the usual 127.0.0.1) connects directly: no resolver and no happy-eyeballs race, which
            // cost a high-rate client (bench load) a good share of its CPU.
            if let literal = try? SocketAddress(ipAddress: host, port: port) {
                connection = try await bootstrap.connect(to: literal, channelInitializer: initializer)
            } else {
                connection = try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
            }
        } catch ChannelError.connectTimeout {
            throw RPCError(.timeout, "no connection to \(address) within \(timeout) s")
        } catch {
            throw RPCError(.unreachable, "no node answers at \(address): \(error)")
        }

        var headers = HTTPHeaders()
        headers.add(name: "Host", value: address)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        let target = query.isEmpty ? path : "\(path)?\(RPCQuery.encode(query))"
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target, headers: headers)

        // Closing the channel at the deadline ends the exchange below; whether the deadline fired tells a timeout
        // from the server closing early.
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        do {
            let response = try await connection.executeThenClose { inbound, outbound in
                var parts: [HTTPClientRequestPart] = [.head(head)]
                if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                return try await readResponse(inbound, from: address)
            }
            timer.cancel()
            return response
        } catch {
            timer.cancel()
            if (try? await timer.futureResult.get()) != nil {
                throw RPCError(.timeout, "no response from \(address) within \(timeout) s")
            }
            if let error = error as? RPCError { throw error }
            throw RPCError(.badResponse, "the exchange with \(address) failed: \(error)")
        }
    }

    /// RFC 9110 §5.6.2 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func readResponse(
        _ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>, from address: String
    ) async throws -> RPCResponse {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await part in inbound {
            switch part {
            case .head(let received):
                head = received
            case .body(var buffer):
                guard buffer.readableBytes <= RPCLimits.maxResponseBytes - body.count else {
                    throw RPCError(.badResponse, "the response from \(address) exceeds \(RPCLimits.maxResponseBytes) bytes")
                }
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { break }
                return RPCResponse(
                    status: Int(head.status.code), contentType: head.headers.first(name: "content-type") ?? "", body: body)
            }
        }
        throw RPCError(.badResponse, "\(address) closed the connection before a complete response")
    }
}
