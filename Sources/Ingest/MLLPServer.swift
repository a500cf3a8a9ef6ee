import Foundation
import HL7v2
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A live HL7 v2 feed over MLLP (`0x0B` message `0x1C 0x0D`): each connection's messages are received in order,
/// and each is acknowledged only once its outcome is durable — `AA` after its resources are committed (or for a
/// duplicate already stored), `AE`/`AR` with an ERR segment after it is a dead letter. Connections are served
/// concurrently and independently: a slow or stalled client holds only its own connection, and only until its frame
/// deadline (``MLLPSession``); one source address holds at most ``Settings/maxConnectionsPerPeer`` of the
/// ``Settings/maxConnections`` slots, and refusals are logged as counts at a bounded rate (``MLLPAdmission``).
public final class MLLPServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// The largest message accepted; a larger frame is discarded as it streams and answered `AR`.
        public var maxMessageBytes: Int
        /// A connection silent for this long, before its first message or between messages (every one answered), is
        /// closed.
        public var idleTimeout: Duration
        /// A message must arrive in full within this time of its first byte, however steadily its bytes trickle in;
        /// else the connection is closed.
        public var frameTimeout: Duration
        /// The most connections served at once; more are closed as they arrive.
        public var maxConnections: Int
        /// The most connections served at once from one source address.
        public var maxConnectionsPerPeer: Int
        /// Refused connections are logged as one line per this interval (the first at once).
        public var refusalReportInterval: Duration

        public static let defaultIdleTimeout = Duration.seconds(300)
        public static let defaultFrameTimeout = Duration.seconds(30)
        public static let defaultMaxConnections = 512
        public static let defaultMaxConnectionsPerPeer = 16
        public static let defaultRefusalReportInterval = Duration.seconds(10)

        public init(host: String = "127.0.0.1", port: Int = 2575, maxMessageBytes: Int = 4 << 20,
                    idleTimeout: Duration = defaultIdleTimeout, frameTimeout: Duration = defaultFrameTimeout,
                    maxConnections: Int = defaultMaxConnections, maxConnectionsPerPeer: Int = defaultMaxConnectionsPerPeer,
                    refusalReportInterval: Duration = defaultRefusalReportInterval) {
            self.host = host
            self.port = port
            self.maxMessageBytes = maxMessageBytes
            self.idleTimeout = idleTimeout
            self.frameTimeout = frameTimeout
            self.maxConnections = maxConnections
            self.maxConnectionsPerPeer = maxConnectionsPerPeer
            self.refusalReportInterval = refusalReportInterval
        }
    }

    /// One line per event, without PHI (control ids, outcomes, counts).
    public typealias Log = @Sendable (String) -> Void

    fileprivate typealias Connection = NIOAsyncChannel<MLLPSession.Action, ByteBuffer>

    public let port: Int
    private let listener: any Channel
    private let serving: Task<Void, Never>
    private let intake: Intake

    private init(port: Int, listener: any Channel, serving: Task<Void, Never>, intake: Intake) {
        self.port = port
        self.listener = listener
        self.serving = serving
        self.intake = intake
    }

    /// Connections refused since the listener started (over ``Settings/maxConnections`` or
    /// ``Settings/maxConnectionsPerPeer``); the log reports them at a bounded rate.
    public var refusedConnections: Int { intake.refusedConnections }

    /// Binds and starts serving; returns once listening (port 0 picks a free port).
    public static func start(importer: Importer, settings: Settings = Settings(), log: @escaping Log = { _ in }) async throws -> MLLPServer {
        guard settings.idleTimeout > .zero, settings.frameTimeout > .zero, settings.maxConnections >= 1, settings.maxConnectionsPerPeer >= 1 else {
            throw MLLPError("the timeouts must be positive and the connection limits at least 1")
        }
        let timeouts = MLLPSession.Timeouts(frame: settings.frameTimeout, idle: settings.idleTimeout)
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MLLPSessionHandler(timeouts: timeouts, maxFrameBytes: settings.maxMessageBytes, log: log))
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
                    // Refusals not reported at once are summed up once per interval.
                    group.addTask {
                        while (try? await Task.sleep(for: settings.refusalReportInterval)) != nil {
                            if let line = intake.reportRefusals(final: false) { log(line) }
                        }
                    }
                    do {
                        for try await connection in connections {
                            let peer = connection.channel.remoteAddress?.ipAddress ?? "?"
                            guard intake.admit(from: peer) else {
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                await intake.serve(connection)
                                intake.leave(from: peer)
                            }
                        }
                    } catch {
                        log("mllp: the listener stopped: \(error)")
                    }
                    if let line = intake.reportRefusals(final: true) { log(line) }
                    group.cancelAll()
                }
            }
        }
        return MLLPServer(port: port, listener: listener.channel, serving: serving, intake: intake)
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

/// The per-message work of the listener: frames in, ACKs out.
private final class Intake: Sendable {
    let importer: Importer
    let settings: MLLPServer.Settings
    let log: MLLPServer.Log
    private let admission: NIOLockedValueBox<MLLPAdmission>
    private let acks = NIOLockedValueBox(0)
    private let prefix: String

    init(importer: Importer, settings: MLLPServer.Settings, log: @escaping MLLPServer.Log) {
        self.importer = importer
        self.settings = settings
        self.log = log
        admission = NIOLockedValueBox(MLLPAdmission(maxConnections: settings.maxConnections, maxConnectionsPerPeer: settings.maxConnectionsPerPeer,
                                                    reportInterval: settings.refusalReportInterval))
        prefix = String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 36).uppercased()
    }

    /// Whether to serve a connection from `peer`; a refusal is logged at a bounded rate.
    func admit(from peer: String) -> Bool {
        let decision = admission.withLockedValue { $0.arrive(from: peer, at: MLLPSessionHandler.now()) }
        switch decision {
        case .admit:
            return true
        case .refuse(let report):
            if let report { log(report) }
            return false
        }
    }

    func leave(from peer: String) { admission.withLockedValue { $0.leave(from: peer) } }

    var refusedConnections: Int { admission.withLockedValue { $0.refusedConnections } }

    func reportRefusals(final: Bool) -> String? {
        admission.withLockedValue { $0.report(at: MLLPSessionHandler.now(), final: final) }
    }

    /// A control id for an ACK: unique within this process and across restarts (a time prefix and a counter).
    func nextControlId() -> String {
        let n = acks.withLockedValue { n -> Int in n += 1; return n }
        return "CL\(prefix)\(n)"
    }

    static func timestamp() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d%02d%02d%02d%02d%02d+0000", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    func serve(_ connection: MLLPServer.Connection) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        try? await connection.executeThenClose { inbound, outbound in
            // MLLPSessionHandler frames the bytes and enforces the deadlines; each frame is answered once.
            for try await event in inbound {
                switch event {
                case .deliver(let payload):
                    let ack = await acknowledge(payload, peer: peer)
                    try await outbound.write(ByteBuffer(bytes: MLLPFramer.frame(ack)))
                case .refuseOversized(let count):
                    let error = HL7Error(.tooLarge, "the message has \(count) bytes; at most \(settings.maxMessageBytes) are accepted")
                    let letter = try? await importer.refuse(source: "mllp \(peer)", location: "oversized frame", error: error)
                    log("mllp \(peer): a frame of \(count) bytes refused (AR), dead letter \(letter.map(String.init) ?? "-")")
                    let ack = HL7Acknowledgment.build(for: nil, code: .reject, error: error, controlId: nextControlId(), timestamp: Self.timestamp())
                    try await outbound.write(ByteBuffer(bytes: MLLPFramer.frame(ack)))
                case .skipped(let count):
                    log("mllp \(peer): \(count) bytes outside any frame skipped")
                case .dropped(let count):
                    log("mllp \(peer): an unterminated frame of \(count) bytes dropped (a new frame started)")
                case .close:
                    break   // the handler closes the connection itself
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
