/// The node's loopback RPC: HTTP/1.1 requests and responses as plain values, the errors, and the limits.
/// ``NodeRPC`` answers requests without knowing the transport; the Gateway module serves it over HTTP
/// (Hummingbird), and ``RPCClient`` calls it.

/// One HTTP request, read in full, as the server's handler sees it.
public struct RPCRequest: Sendable {
    /// The HTTP method, e.g. `"GET"` or `"POST"`.
    public var method: String
    /// The request target without its query, e.g. `"/status"`.
    public var path: String
    /// The query parameters, percent-decoded with `+` read as a space; a repeated name keeps its last value.
    public var query: [String: String]
    /// The body, at most the server's `maxBodyBytes`.
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }
}

/// One HTTP response; the server sends it with `Content-Length`.
public struct RPCResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body.
    public var body: [UInt8]

    public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A JSON response.
    public static func json(_ status: Int, _ body: [UInt8]) -> RPCResponse {
        RPCResponse(status: status, body: body)
    }

    /// What the listener itself answers to a request it refuses before the handler sees it (413, 400):
    /// `{"code", "message", "error"}`, `error` repeating the message under the key these answers first had.
    public static func refusal(_ status: Int, code: String, _ reason: String) -> RPCResponse {
        RPCJSON.response(status, RPCRefusal(code: code, message: reason, error: reason))
    }
}

/// Why an RPC call or the server failed.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case notLoopback, bindFailed, unreachable, timeout, invalidRequest, badResponse
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server was asked to listen on a host other than `127.0.0.1`, `::1` or `localhost`.
        public static let notLoopback = Code(.notLoopback)
        /// The server could not listen on the port (in use, or not permitted).
        public static let bindFailed = Code(.bindFailed)
        /// Nothing accepts connections at the client's host and port.
        public static let unreachable = Code(.unreachable)
        /// No complete response arrived within the client's timeout.
        public static let timeout = Code(.timeout)
        /// The client was given a request it cannot send (a path not starting with `/`, a bad timeout).
        public static let invalidRequest = Code(.invalidRequest)
        /// The connection closed before a complete response, or the response broke HTTP/1.1 or a limit.
        public static let badResponse = Code(.badResponse)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What happened, naming the host and port involved.
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

/// The RPC's limits and timings, in one place.
public enum RPCLimits {
    /// The hosts the server may listen on: the RPC is for the node's operator on the same machine.
    public static let loopbackHosts: Set<String> = ["127.0.0.1", "::1", "localhost"]
    /// The largest request body the server reads; a larger one is answered 413 without being held in memory.
    public static let maxBodyBytes = 16 << 20
    /// After answering 413, the server reads and discards the rest of the request for at most this long, so the
    /// client sees the answer rather than a connection reset, then closes.
    public static let drainTime: Duration = .seconds(2)
    /// On SIGTERM or SIGINT, requests in flight may finish for this long; then their handlers are cancelled.
    public static let shutdownGracePeriod: Duration = .seconds(10)
    /// A kept-alive connection with no request for this long is closed (clients send one request per connection).
    public static let idleTimeout: Duration = .seconds(5)
    /// The client refuses a response body larger than this.
    static let maxResponseBytes = 256 << 20
    /// Pending connections the listening socket queues.
    public static let backlog = 256
}

/// `application/x-www-form-urlencoded`-style query strings (WHATWG URL §5.1): `&`-separated `name=value` pairs,
/// percent-encoded, `+` meaning a space.
public enum RPCQuery {
    /// The parameters of `query` (the part after `?`), or nil when an escape is malformed or a name or value is
    /// not UTF-8.
    public static func decode(_ query: Substring) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let name: Substring, value: Substring
            if let equals = pair.firstIndex(of: "=") {
                (name, value) = (pair[..<equals], pair[pair.index(after: equals)...])
            } else {
                (name, value) = (pair, "")
            }
            guard let decodedName = percentDecode(name), let decodedValue = percentDecode(value) else { return nil }
            result[decodedName] = decodedValue
        }
        return result
    }

    /// The query string for `parameters`, sorted by name; everything but RFC 3986 unreserved characters is escaped.
    public static func encode(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }
            .map { "\(percentEncode($0.key))=\(percentEncode($0.value))" }
            .joined(separator: "&")
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func percentEncode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// `host:port`, with an IPv6 host in brackets.
public func hostPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
