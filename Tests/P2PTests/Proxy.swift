import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A TCP proxy on 127.0.0.1 forwarding to `target` that misbehaves once, on the first connection to reach the fault
/// (``Fault``); the others pass through untouched.
final class Proxy: Sendable {
    /// What the first connection to reach the fault's byte suffers, counting client→server bytes. A connection that
    /// closes before (a dial whose handshake timed out on a loaded machine, redialled) leaves the fault for the next:
    /// applied to the first connection only, the fault once missed the message it was for, which then went through
    /// a clean redial intact.
    enum Fault: Sendable {
        /// The low bit of the byte at this offset is flipped.
        case flipBit(at: Int)
        /// Forwarding (and reading) stops after this many bytes: the server looks like a peer that stopped reading.
        case stall(after: Int)
    }

    private typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let port: Int
    private let listener: any Channel
    private let serving: Task<Void, Never>

    private init(port: Int, listener: any Channel, serving: Task<Void, Never>) {
        self.port = port
        self.listener = listener
        self.serving = serving
    }

    static func start(target: Int, fault: Fault) async throws -> Proxy {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_rcvbuf), value: 16 << 10)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
            }
        let port = try #require(listener.channel.localAddress?.port)
        let serving = Task {
            _ = try? await listener.executeThenClose { clients in
                try await withThrowingDiscardingTaskGroup { group in
                    let latch = FaultLatch()
                    for try await client in clients {
                        group.addTask { try? await relay(client, to: target, fault: fault, latch: latch) }
                    }
                }
            }
        }
        return Proxy(port: port, listener: listener.channel, serving: serving)
    }

    /// Whether a connection has suffered the fault yet.
    private final class FaultLatch: Sendable {
        private let used = Mutex(false)

        /// True for the first caller only.
        func claim() -> Bool {
            used.withLock { used in
                defer { used = true }
                return !used
            }
        }
    }

    private static func relay(_ client: Connection, to target: Int, fault: Fault, latch: FaultLatch) async throws {
        let server = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: target) { channel in
                channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
            }
        try await client.executeThenClose { clientIn, clientOut in
            try await server.executeThenClose { serverIn, serverOut in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var offset = 0
                        for try await var chunk in clientIn {
                            switch fault {
                            case .flipBit(let at) where at >= offset && at < offset + chunk.readableBytes && latch.claim():
                                let index = chunk.readerIndex + at - offset
                                if let byte = chunk.getInteger(at: index, as: UInt8.self) { chunk.setInteger(byte ^ 1, at: index) }
                            case .stall(let after) where offset + chunk.readableBytes > after && latch.claim():
                                try await serverOut.write(chunk.getSlice(at: chunk.readerIndex, length: after - offset) ?? ByteBuffer())
                                try await Task.sleep(for: .seconds(3600))
                            default:
                                break
                            }
                            offset += chunk.readableBytes
                            try await serverOut.write(chunk)
                        }
                    }
                    group.addTask {
                        for try await chunk in serverIn { try await clientOut.write(chunk) }
                    }
                    // Either side closing ends the relay; leaving both closures closes both connections.
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }

    func stop() async {
        try? await listener.close()
        serving.cancel()
        await serving.value
    }
}

/// A plain TCP client: what it reads until the peer closes, or until `limit` passes.
func readUntilClosed(port: Int, sending bytes: [UInt8], within limit: Duration) async throws -> (bytes: [UInt8], closed: Bool) {
    let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    // The peer closing first can make the final close fail (I/O on closed channel): what was read still counts.
    var outcome: (bytes: [UInt8], closed: Bool) = ([], false)
    try? await connection.executeThenClose { inbound, outbound in
        if !bytes.isEmpty {
            do {
                try await outbound.write(ByteBuffer(bytes: bytes))
            } catch {
                // The peer closed before our bytes went out: that is a close too.
                outcome = ([], true)
                return
            }
        }
        outcome = await withTaskGroup(of: ([UInt8], Bool)?.self) { group in
            group.addTask {
                var read: [UInt8] = []
                do {
                    for try await chunk in inbound { read += Array(chunk.readableBytesView) }
                } catch {}
                return (read, true)
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? ([], false)
        }
    }
    return outcome
}
