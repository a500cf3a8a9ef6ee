import Dispatch
import Foundation
import Gateway
import Node
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's loopback RPC served by Hummingbird over real sockets: a server on an ephemeral port, run in a service
/// group as `node start` runs it, and the client calling it.
@Suite(.timeLimit(.minutes(5))) struct LoopbackRPCTests {
    /// Answers "METHOD PATH name=value&… BODYLENGTH", the query sorted by name and not escaped.
    static let echo: @Sendable (RPCRequest) async -> RPCResponse = { request in
        let query = request.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        let text = "\(request.method) \(request.path) \(query) \(request.body.count)"
        return RPCResponse(status: 200, contentType: "text/plain", body: Array(text.utf8))
    }

    static func text(_ response: RPCResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    /// The error `body` throws, or nil.
    static func rpcError(_ body: () async throws -> Void) async -> RPCError? {
        do { try await body() } catch let error as RPCError { return error } catch { return nil }
        return nil
    }

    @Test func echoesMethodPathPercentEscapedQueryAndBody() async throws {
        let server = try await RunningRPC.start(handler: Self.echo)
        let get = try await RPCClient.send(port: server.port, method: "GET", path: "/status")
        #expect(get.status == 200)
        #expect(get.contentType == "text/plain")
        #expect(Self.text(get) == "GET /status  0")

        let query = ["q": "a b&c=d/é%+", "empty": "", "ünï code": "✓"]
        let post = try await RPCClient.send(
            port: server.port, method: "POST", path: "/tx/submit", query: query, body: [UInt8](repeating: 7, count: 1 << 20), timeout: 120)
        #expect(post.status == 200)
        #expect(Self.text(post) == "POST /tx/submit empty=&q=a b&c=d/é%+&ünï code=✓ 1048576")
        try await server.stop()
    }

    @Test func queryDecodingReadsPlusAsSpaceAndRejectsBadEscapes() {
        #expect(RPCQuery.decode("a=b+c%20d&e&f=%E2%9C%93&a=last") == ["a": "last", "e": "", "f": "✓"])
        #expect(RPCQuery.decode("a=%zz") == nil)
        #expect(RPCQuery.decode("a=%4") == nil)
        #expect(RPCQuery.decode("a=%FF") == nil)  // not UTF-8
        #expect(RPCQuery.encode(["b": "x y", "a": "1+1"]) == "a=1%2B1&b=x%20y")
    }

    @Test func responseHeadersAndJSONBodyReachTheClient() async throws {
        let server = try await RunningRPC.start { _ in .json(201, Array(#"{"height":7}"#.utf8)) }
        let response = try await RPCClient.send(port: server.port, method: "POST", path: "/x", body: [1, 2, 3])
        #expect(response.status == 201)
        #expect(response.contentType == "application/json")
        #expect(Self.text(response) == #"{"height":7}"#)
        try await server.stop()
    }

    @Test func healthIsAStaticOK() async throws {
        let server = try await RunningRPC.start(handler: Self.echo)
        let response = try await RPCClient.send(port: server.port, method: "GET", path: "/health")
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        #expect(try RPCJSON.decode(HealthAnswer.self, from: response.body) == HealthAnswer(status: "ok"))
        #expect(Self.text(response) == #"{"status":"ok"}"#)
        // Any other method or path goes to the handler.
        #expect(Self.text(try await RPCClient.send(port: server.port, method: "POST", path: "/health")) == "POST /health  0")
        try await server.stop()
    }

    @Test func bodyLargerThanTheLimitGets413() async throws {
        let server = try await RunningRPC.start(maxBodyBytes: 1024, handler: Self.echo)
        // Generous client timeouts: what is checked is the 413, not speed (two shared cores).
        let atLimit = try await RPCClient.send(port: server.port, method: "POST", path: "/p", body: [UInt8](repeating: 1, count: 1024), timeout: 120)
        #expect(Self.text(atLimit) == "POST /p  1024")
        for size in [1025, 4 << 20] {
            let response = try await RPCClient.send(port: server.port, method: "POST", path: "/p", body: [UInt8](repeating: 1, count: size), timeout: 120)
            #expect(response.status == 413, "\(size) bytes")
            let refusal = try RPCJSON.decode(RPCRefusal.self, from: response.body)
            #expect(refusal.code == "too-large")
            #expect(refusal.message == "the request body exceeds 1024 bytes")
            #expect(refusal.error == refusal.message, "the older key is still there")
        }
        try await server.stop()
    }

    @Test(arguments: [
        "NOT A METHOD /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET /x?a=%zz HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: a\r\n\r\n",
    ])
    func malformedHTTPGets400(request: String) async throws {
        let server = try await RunningRPC.start(handler: Self.echo)
        let answer = try await Self.rawExchange(port: server.port, Array(request.utf8))
        #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
        try await server.stop()
    }

    @Test func chunkedBodyLargerThanTheLimitGets413() async throws {
        let server = try await RunningRPC.start(maxBodyBytes: 1024, handler: Self.echo)
        let chunk = String(repeating: "x", count: 2000)
        let request = "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n\(chunk)\r\n0\r\n\r\n"
        let answer = try await Self.rawExchange(port: server.port, Array(request.utf8))
        #expect(answer.hasPrefix("HTTP/1.1 413 "), "\(answer)")
        #expect(answer.contains(#""code":"too-large""#), "\(answer)")
        try await server.stop()
    }

    @Test func clientRefusesMalformedMethodsAndPaths() async {
        for (method, path) in [("NOT A METHOD", "/x"), ("", "/x"), ("GET", "x"), ("GET", "/a b"), ("GET", "/a?b=c")] {
            let error = await Self.rpcError { _ = try await RPCClient.send(port: 1, method: method, path: path) }
            #expect(error?.code == .invalidRequest, "\(method) \(path)")
        }
    }

    @Test func fiftyConcurrentRequestsAreAllAnswered() async throws {
        let server = try await RunningRPC.start(handler: Self.echo)
        let port = server.port
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for n in 0..<50 {
                group.addTask {
                    let response = try await RPCClient.send(
                        port: port, method: "POST", path: "/n/\(n)", query: ["n": String(n)], body: [UInt8](repeating: 0, count: n), timeout: 120)
                    return (n, Self.text(response))
                }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 50)
        for n in 0..<50 { #expect(answers[n] == "POST /n/\(n) n=\(n) \(n)") }
        try await server.stop()
    }

    @Test func clientToAStoppedServerThrowsUnreachable() async throws {
        let server = try await RunningRPC.start(handler: Self.echo)
        let port = server.port
        try await server.stop()
        let error = await Self.rpcError { _ = try await RPCClient.send(port: port, method: "GET", path: "/status", timeout: 5) }
        #expect(error?.code == .unreachable)
        #expect(error?.description.contains("127.0.0.1:\(port)") == true)
    }

    @Test(arguments: ["0.0.0.0", "192.168.1.10", "example.org", ""])
    func serverRefusesNonLoopbackHosts(host: String) async {
        let error = await Self.rpcError { _ = try LoopbackRPC.application(host: host, port: 0, handler: Self.echo) }
        #expect(error?.code == .notLoopback)
    }

    @Test func serverListensOnIPv6Loopback() async throws {
        let server = try await RunningRPC.start(host: "::1", handler: Self.echo)
        let response = try await RPCClient.send(host: "::1", port: server.port, method: "GET", path: "/six")
        #expect(Self.text(response) == "GET /six  0")
        try await server.stop()
    }

    /// A port another server holds: the service fails when it runs, and the group's run throws.
    @Test func aPortInUseMakesTheRunThrow() async throws {
        let first = try await RunningRPC.start(handler: Self.echo)
        let second = try LoopbackRPC.application(port: first.port, handler: Self.echo)
        let process = NodeProcess(services: [second], signals: false, gracePeriod: .seconds(5))
        await #expect(throws: (any Error).self) { try await process.run() }
        #expect(Self.text(try await RPCClient.send(port: first.port, method: "GET", path: "/still")) == "GET /still  0")
        try await first.stop()
    }

    /// Set once, read from any task.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    /// Waits (bounded well below the suite's limit) until `flag` is set.
    static func wait(for flag: Flag) async throws {
        let clock = ContinuousClock()
        let asked = clock.now
        while !flag.isSet && clock.now - asked < .seconds(90) {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// SIGTERM's graceful shutdown lets a request in flight finish and answers it; afterwards nothing listens.
    @Test func shutdownFinishesTheRequestInFlight() async throws {
        let started = Flag()
        let server = try await RunningRPC.start(gracePeriod: .seconds(120)) { request in
            started.set()
            try? await Task.sleep(for: .seconds(1))
            return RPCResponse(status: 200, contentType: "text/plain", body: Array("finished \(request.path)".utf8))
        }
        let port = server.port
        let inFlight = Task { try await RPCClient.send(port: port, method: "GET", path: "/slow", timeout: 110) }
        try await Self.wait(for: started)
        #expect(started.isSet, "no handler started")
        try await server.stop()
        let answer = try await inFlight.value
        #expect(answer.status == 200)
        #expect(Self.text(answer) == "finished /slow")
        let error = await Self.rpcError { _ = try await RPCClient.send(port: port, method: "GET", path: "/status", timeout: 5) }
        #expect(error?.code == .unreachable)
    }

    @Test func slowHandlerMakesTheClientTimeOutAndShutdownCancelsItAfterTheGracePeriod() async throws {
        let handlerStarted = Flag()
        let cancelled = Flag()
        let server = try await RunningRPC.start(gracePeriod: .seconds(1)) { _ in
            handlerStarted.set()
            do {
                try await Task.sleep(for: .seconds(120))
            } catch {
                cancelled.set()
            }
            return .json(200, [])
        }
        let error = await Self.rpcError { _ = try await RPCClient.send(port: server.port, method: "GET", path: "/slow", timeout: 0.3) }
        #expect(error?.code == .timeout)
        #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)

        // A request that stays open, so that a handler is surely sleeping when the shutdown starts. What is checked
        // is that the handler's two-minute sleep was cancelled once the grace period was over, not how fast.
        let pending = Task { try? await RPCClient.send(port: server.port, method: "GET", path: "/slow", timeout: 110) }
        defer { pending.cancel() }
        try await Self.wait(for: handlerStarted)
        #expect(handlerStarted.isSet, "no handler started")
        try await server.stop()
        try await Self.wait(for: cancelled)
        #expect(cancelled.isSet, "the shutdown left the handler sleeping instead of cancelling it")
    }

    /// Writes `bytes` to 127.0.0.1:port over a plain socket and returns what the server sends until it closes.
    /// The blocking socket calls run on their own (overcommitting) Dispatch queue, off Swift's cooperative pool,
    /// which the server needs to answer.
    static func rawExchange(port: Int, _ bytes: [UInt8]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "LoopbackRPCTests.rawExchange").async { continuation.resume(with: Result { try blockingExchange(port: port, bytes) }) }
        }
    }

    static func blockingExchange(port: Int, _ bytes: [UInt8]) throws -> String {
        struct SocketFailure: Error { let call: String }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SocketFailure(call: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketFailure(call: "connect") }
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw SocketFailure(call: "send") }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = recv(fd, &buffer, buffer.count, 0), count > 0 {
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
