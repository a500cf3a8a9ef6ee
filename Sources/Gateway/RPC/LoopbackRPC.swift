import Foundation
public import Hummingbird
import Logging
import NIOCore
public import Node

/// The node's RPC as a Hummingbird application on a loopback address (docs/node.md). It is a swift-service-lifecycle
/// `Service`: run it in a ``NodeProcess`` (or any `ServiceGroup`); on graceful shutdown it stops accepting
/// connections and lets requests in flight finish.
public enum LoopbackRPC {
    public typealias Server = Application<RPCResponder>

    /// An application serving `handler` on host:port (port 0: any free port). Only `127.0.0.1`, `::1` and
    /// `localhost` are accepted: the RPC is for the operator on the same machine. `onListening` gets the bound port
    /// once the server accepts connections. A port that cannot be bound makes the service throw when it runs.
    public static func application(
        host: String = "127.0.0.1", port: Int, maxBodyBytes: Int = RPCLimits.maxBodyBytes,
        onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in },
        handler: @escaping @Sendable (RPCRequest) async -> RPCResponse
    ) throws(RPCError) -> Server {
        guard RPCLimits.loopbackHosts.contains(host) else {
            throw RPCError(.notLoopback, "the RPC listens on 127.0.0.1, ::1 or localhost only, not '\(host)'")
        }
        guard (0...65535).contains(port) else { throw RPCError(.bindFailed, "\(port) is not a TCP port") }
        var logger = Logger(label: "careledger.rpc")
        logger.logLevel = .warning
        return Application(
            responder: RPCResponder(maxBodyBytes: maxBodyBytes, handler: handler),
            server: .http1(configuration: .init(idleTimeout: TimeAmount(RPCLimits.idleTimeout))),
            configuration: .init(address: .hostname(host, port: port), backlog: RPCLimits.backlog),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// The RPC of `node`: on 127.0.0.1 at its configured port, answered by ``NodeService/handleRPC(_:)``; once
    /// listening, the bound port goes to `data/rpc.json` and `log`.
    public static func application(for node: NodeService, log: @escaping @Sendable (String) -> Void = { _ in }) throws(RPCError) -> Server {
        let host = "127.0.0.1"
        return try application(host: host, port: node.rpcPort, onListening: { port in
            do {
                try node.publishRPCEndpoint(host: host, port: port)
            } catch {
                log("cannot write \(node.home.rpcFile.path): \(error)")
            }
            log("rpc on \(hostPort(host, port))")
        }, handler: { await node.handleRPC($0) })
    }
}
