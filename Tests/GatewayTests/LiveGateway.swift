import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle

extension ApplicationProtocol {
    /// Runs the application on localhost, on a port the system picks, and runs `body` with a loopback HTTP client to
    /// it; the server shuts down gracefully after `body`, whether it returned or threw.
    ///
    /// What HummingbirdTesting's `test(.live)` does, but its client gives each request a fixed 20 s, and the gateway
    /// suites run in parallel on two shared cores beside PostgreSQL servers, builds and validator processes: a
    /// PostgreSQL `$everything` that takes 2 s alone has run past 20 s there. This client waits
    /// ``LiveClient/timeout`` instead.
    func testLive<Value>(_ body: @Sendable (LiveClient) async throws -> Value) async throws -> Value {
        let (ports, announce) = AsyncStream.makeStream(of: Int?.self)
        let application = LiveApplication(base: self) { port in
            announce.yield(port)
            announce.finish()
        }
        let services = ServiceGroup(configuration: .init(services: [application], logger: application.logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A server that stops before it listens ends the wait for its port below.
                defer { announce.finish() }
                try await services.run()
            }
            var announced = ports.makeAsyncIterator()
            guard let bound = await announced.next(), let port = bound else {
                // Not listening (it failed to start, or listens where there is no port): its own error says why, if
                // it threw one.
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                throw LiveGatewayError.notListening
            }
            let client = TestClient(host: "localhost", port: port, configuration: .init(timeout: LiveClient.timeout))
            client.connect()
            do {
                let value = try await body(LiveClient(client: client, port: port))
                try await client.shutdown()
                await services.triggerGracefulShutdown()
                return value
            } catch {
                // The test's own error is the one to report, not a failure to close the connection after it.
                try? await client.shutdown()
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }
}

/// The loopback HTTP client of `ApplicationProtocol.testLive(_:)`: HummingbirdTesting's `TestClient`,
/// with the calls of its `TestClientProtocol`, so tests read as they do with `test(.live)`.
///
/// Not a `TestClientProtocol` itself: that protocol returns `TestResponse`, which cannot be made outside
/// HummingbirdTesting, so responses are ``LiveResponse``s with the same fields.
struct LiveClient: Sendable {
    /// How long one request may take to be answered in full before it fails with `TestClient.Error.readTimeout`.
    ///
    /// Generous on purpose: it only bounds a hung server, so a hang still fails, after 120 s instead of 20 s, and
    /// each suite's `.timeLimit` still bounds the whole test. No test checks how fast an answer comes.
    static let timeout: Duration = .seconds(120)

    let client: TestClient
    /// The port the server listens on (optional, as `TestClientProtocol` has it).
    let port: Int?

    /// Sends one request on the client's connection (kept alive, as `test(.live)` does) and returns the response.
    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:],
                        body: ByteBuffer? = nil) async throws -> LiveResponse {
        var headers = headers
        headers[.connection] = "keep-alive"
        let request = TestClient.Request(uri, method: method, authority: "localhost", headers: headers, body: body)
        let response = try await client.execute(request)
        return LiveResponse(head: response.head, body: response.body ?? ByteBuffer(), trailerHeaders: response.trailerHeaders)
    }

    /// Sends one request and returns what `testCallback` makes of the response (the response itself by default).
    @discardableResult
    func execute<Return>(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
                         testCallback: (LiveResponse) async throws -> Return = { $0 }) async throws -> Return {
        try await testCallback(executeRequest(uri: uri, method: method, headers: headers, body: body))
    }
}

/// A response from a live test gateway: the fields of HummingbirdTesting's `TestResponse`.
struct LiveResponse: Sendable {
    let head: HTTPResponse
    /// The body, empty when the response had none.
    let body: ByteBuffer
    let trailerHeaders: HTTPFields?

    var status: HTTPResponse.Status { head.status }
    var headers: HTTPFields { head.headerFields }
}

/// Why `ApplicationProtocol.testLive(_:)` could not run its body.
enum LiveGatewayError: Error {
    /// The server stopped before it listened on a port, without an error of its own.
    case notListening
}

/// The application under test as HummingbirdTesting's `.live` wrapper runs it: on localhost, on a port the system
/// picks, telling `listening` that port once the server runs (after the application's own `onServerRunning`, so a
/// gateway already names its bound port when the test starts).
private struct LiveApplication<Base: ApplicationProtocol>: ApplicationProtocol {
    typealias Responder = Base.Responder

    let base: Base
    let listening: @Sendable (Int?) -> Void

    var responder: Responder {
        get async throws { try await base.responder }
    }
    var server: HTTPServerBuilder { base.server }
    var eventLoopGroup: any EventLoopGroup { base.eventLoopGroup }
    var configuration: ApplicationConfiguration { base.configuration.with(address: .hostname("localhost", port: 0)) }
    var logger: Logger { base.logger }
    var services: [any Service] { base.services }
    var processesRunBeforeServerStart: [@Sendable () async throws -> Void] { base.processesRunBeforeServerStart }

    @Sendable func onServerRunning(_ channel: any Channel) async {
        await base.onServerRunning(channel)
        listening(channel.localAddress?.port)
    }
}
