import Foundation
import Gateway
import Node

/// A loopback RPC server on an ephemeral port, run as the node process runs it (a service group), without signals:
/// ``stop()`` starts the graceful shutdown SIGTERM would.
struct RunningRPC {
    struct NotListening: Error {}

    let port: Int
    let process: NodeProcess
    let running: Task<Void, any Error>

    static func start(
        host: String = "127.0.0.1", maxBodyBytes: Int = RPCLimits.maxBodyBytes, gracePeriod: Duration = .seconds(60),
        handler: @escaping @Sendable (RPCRequest) async -> RPCResponse
    ) async throws -> RunningRPC {
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let app = try LoopbackRPC.application(host: host, port: 0, maxBodyBytes: maxBodyBytes,
                                              onListening: { listening.yield($0) }, handler: handler)
        let process = NodeProcess(services: [app], signals: false, gracePeriod: gracePeriod)
        let running = Task {
            defer { listening.finish() }
            try await process.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await running.value
            throw NotListening()
        }
        return RunningRPC(port: port, process: process, running: running)
    }

    /// Graceful shutdown; returns once the server stopped (requests in flight finished or, after the grace period,
    /// cancelled).
    func stop() async throws {
        await process.shutdown()
        try await running.value
    }
}
