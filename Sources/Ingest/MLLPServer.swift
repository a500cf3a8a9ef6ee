import Foundation
import HL7v2
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A live HL7 v2 feed over MLLP (`0x0B` message `0x1C 0x0D`): each connection's messages are received in order,
/// and each is acknowledged only once its outcome is durable — `AA` after its resources are committed (or for a
/// duplicate already stored), `AE`/`AR` with an ERR segment after it is a dead letter. Connections are served
/// concurrently and independently: a slow or stalled client holds only its own connection.
public final class MLLPServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// The largest message accepted; a larger frame is discarded as it streams and answered `AR`.
        public var maxMessageBytes: Int
        /// A connection with nothing received for this many seconds is closed.
        public var idleTimeoutSeconds: Int
        /// The most connections served at once; more are closed as they arrive.
        public var maxConnections: Int

        public init(host: String = "127.0.0.1", port: Int = 2575, maxMessageBytes: Int = 4 << 20,
                    idleTimeoutSeconds: Int = 300, maxConnections: Int = 512) {
            self.host = host
            self.port = port
            self.maxMessageBytes = maxMessageBytes
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.maxConnections = maxConnections
        }
    }

    /// One line per event, without PHI (control ids, outcomes, counts).
    public typealias Log = @Sendable (String) -> Void

    private typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public let port: Int
    private let listener: any Channel
    private let serving: Task<Void, Never>

    private init(port: Int, listener: any Channel, serving: Task<Void, Never>) {
        self.port = port
        self.listener = listener
        self.serving = serving
    }

    /// Binds and starts serving; returns once listening (port 0 picks a free port).
    public static func start(importer: Importer, settings: Settings = Settings(), log: @escaping Log = { _ in }) async throws -> MLLPServer {
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(settings.idleTimeoutSeconds))))
                        try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MLLPError("cannot listen on \(settings.host):\(settings.port): \(error)")
        }
        guard let port = listener.channel.localAddress?.port else {
            listener.channel.close(promise: nil)
            throw MLLPError("cannot listen on \(settings.host):\(settings.port): no local address")
        }
        let intake = Intake(importer: importer, settings: settings, log: log)
        let serving = Task {
            _ = try? await listener.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            guard intake.open() else {
                                log("mllp: refused a connection: \(settings.maxConnections) already open")
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                await intake.serve(connection)
                                intake.close()
                            }
                        }
                    } catch {
                        log("mllp: the listener stopped: \(error)")
                    }
                }
            }
        }
        return MLLPServer(port: port, listener: listener.channel, serving: serving)
    }

    /// Stops accepting connections and closes the open ones (a message being stored finishes first: its
    /// transaction is not interrupted, only its ACK may not be sent, and the sender will resend it).
    public func stop() async {
        try? await listener.close()
        serving.cancel()
        await serving.value
    }
}

public struct MLLPError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Closes a connection when IdleStateHandler reports no reads for its timeout.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The per-message work of the listener: frames in, ACKs out.
private final class Intake: Sendable {
    let importer: Importer
    let settings: MLLPServer.Settings
    let log: MLLPServer.Log
    private let counters = NIOLockedValueBox((open: 0, acks: 0))
    private let prefix: String

    init(importer: Importer, settings: MLLPServer.Settings, log: @escaping MLLPServer.Log) {
        self.importer = importer
        self.settings = settings
        self.log = log
        prefix = String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 36).uppercased()
    }

    func open() -> Bool {
        counters.withLockedValue { c in
            guard c.open < settings.maxConnections else { return false }
            c.open += 1
            return true
        }
    }

    func close() { counters.withLockedValue { $0.open -= 1 } }

    /// A control id for an ACK: unique within this process and across restarts (a time prefix and a counter).
    func nextControlId() -> String {
        let n = counters.withLockedValue { c -> Int in c.acks += 1; return c.acks }
        return "CL\(prefix)\(n)"
    }

    static func timestamp() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d%02d%02d%02d%02d%02d+0000", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        try? await connection.executeThenClose { inbound, outbound in
            var framer = MLLPFramer(maxFrameBytes: settings.maxMessageBytes)
            for try await buffer in inbound {
                framer.append(buffer.readableBytesView)
                while let event = framer.next() {
                    switch event {
                    case .frame(let payload):
                        let ack = await acknowledge(payload, peer: peer)
                        try await outbound.write(ByteBuffer(bytes: MLLPFramer.frame(ack)))
                    case .oversized(let count):
                        let error = HL7Error(.tooLarge, "the message has \(count) bytes; at most \(settings.maxMessageBytes) are accepted")
                        let letter = try? await importer.refuse(source: "mllp \(peer)", location: "oversized frame", error: error)
                        log("mllp \(peer): a frame of \(count) bytes refused (AR), dead letter \(letter.map(String.init) ?? "-")")
                        let ack = HL7Acknowledgment.build(for: nil, code: .reject, error: error, controlId: nextControlId(), timestamp: Self.timestamp())
                        try await outbound.write(ByteBuffer(bytes: MLLPFramer.frame(ack)))
                    case .garbage(let count):
                        log("mllp \(peer): \(count) bytes outside any frame skipped")
                    case .unterminated(let count):
                        log("mllp \(peer): an unterminated frame of \(count) bytes dropped (a new frame started)")
                    }
                }
            }
        }
    }

    func acknowledge(_ payload: [UInt8], peer: String) async -> [UInt8] {
        let receipt: Importer.HL7Receipt
        do {
            receipt = try await importer.receive(payload, source: "mllp \(peer)")
        } catch {
            // The store failed: nothing is known to be durable, so the sender must resend (AE, not AA).
            log("mllp \(peer): the store failed: \(error)")
            let parsed = try? HL7Message.parse(payload)
            let why = HL7Error(.internalError, "the message could not be stored now; send it again")
            return HL7Acknowledgment.build(for: parsed, code: .error, error: why, controlId: nextControlId(), timestamp: Self.timestamp())
        }
        let control = receipt.message?.controlId ?? "(none)"
        switch receipt.outcome {
        case .stored:
            log("mllp \(peer): MSH-10 \(control): AA, \(receipt.resources) resources stored, \(receipt.warnings) warnings")
            return HL7Acknowledgment.build(for: receipt.message, code: .accept, controlId: nextControlId(), timestamp: Self.timestamp())
        case .duplicate:
            log("mllp \(peer): MSH-10 \(control): AA, a duplicate of a message already stored")
            return HL7Acknowledgment.build(for: receipt.message, code: .accept, text: "duplicate of a message already stored",
                                           controlId: nextControlId(), timestamp: Self.timestamp())
        case .rejected:
            let error = receipt.error ?? HL7Error(.internalError, "refused")
            log("mllp \(peer): MSH-10 \(control): \(error.acknowledgmentCode.rawValue) \(error.conditionCode), dead letter \(receipt.deadLetter.map(String.init) ?? "-")")
            return HL7Acknowledgment.build(for: receipt.message, code: error.acknowledgmentCode, error: error,
                                           controlId: nextControlId(), timestamp: Self.timestamp())
        }
    }
}
