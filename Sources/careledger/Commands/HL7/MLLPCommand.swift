import ArgumentParser
import Foundation
import Ingest
import RecordStore

/// `careledger mllp`: a live HL7 v2 feed into the record store.
struct MLLPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mllp",
        abstract: "Receive HL7 v2 messages over MLLP and store them, acknowledging each only once it is durable.",
        discussion: """
            Each message (0x0B … 0x1C 0x0D) is converted through Mappings/hl7v2 and stored in one transaction with \
            its identity (MSH-4 sender, MSH-10 control id, SHA-256 of its bytes). Then it is acknowledged: AA once \
            stored, or when it duplicates a message already stored (nothing is applied twice); AE or AR with an ERR \
            segment (what and where) once a refused message is a dead letter (careledger deadletters list). MSA-2 is \
            the message's MSH-10. Connections are served concurrently; a malformed, oversized or slow connection \
            affects only itself, and only for a while: each message must arrive in full within --frame-timeout of \
            its first byte, however steadily its bytes trickle in (a sender that drips a byte a second is closed), \
            and a connection silent before its first message or between messages is closed after --idle-timeout. \
            At most --max-connections are served at once, and at most --max-connections-per-peer from one source \
            address, so one sender cannot take every slot; more are closed as they arrive. Refused connections are \
            counted and logged at a bounded rate: the first at once, then one line every 10 seconds with the count. \
            One log line per message on standard error, without patient data. Stops on SIGINT or SIGTERM.

            Exit codes: 0 stopped by a signal; 64 a bad option or --store; 66 no Mappings folder; 69 the store cannot \
            be opened or the port cannot be listened on; 78 the mappings cannot be used.
            """
    )

    @Option(help: "The TCP port (0 picks a free one, printed at start).")
    var port: Int = 2575

    @Option(help: "The address to listen on (0.0.0.0 for every interface).")
    var host: String = "127.0.0.1"

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The mappings folder (default: Mappings/ of the working directory or of the repository holding this binary).")
    var mappings: String?

    @Option(help: "The largest message accepted, in bytes; a larger one is answered AR and kept as a dead letter note.")
    var maxMessageBytes: Int = 4 << 20

    @Option(help: "Seconds a connection may stay silent, before its first message or between messages (all answered), before it is closed.")
    var idleTimeout: Int = Int(MLLPServer.Settings.defaultIdleTimeout.components.seconds)

    @Option(help: "Seconds within which a message must arrive in full, from its first byte; a slower sender is closed.")
    var frameTimeout: Int = Int(MLLPServer.Settings.defaultFrameTimeout.components.seconds)

    @Option(help: "The most connections served at once; more are closed as they arrive.")
    var maxConnections: Int = MLLPServer.Settings.defaultMaxConnections

    @Option(help: "The most connections served at once from one source address.")
    var maxConnectionsPerPeer: Int = MLLPServer.Settings.defaultMaxConnectionsPerPeer

    /// The longest timeout accepted: a week.
    static let maxTimeoutSeconds = 604_800

    func validate() throws {
        guard (1...Self.maxTimeoutSeconds).contains(idleTimeout), (1...Self.maxTimeoutSeconds).contains(frameTimeout) else {
            throw ValidationError("--idle-timeout and --frame-timeout are whole seconds, from 1 to \(Self.maxTimeoutSeconds) (a week)")
        }
        guard maxConnections >= 1, maxConnectionsPerPeer >= 1 else {
            throw ValidationError("--max-connections and --max-connections-per-peer are at least 1")
        }
        guard maxMessageBytes >= 1 else { throw ValidationError("--max-message-bytes is at least 1") }
    }

    func run() async throws {
        var importer = Importer(store: try await storeOptions.open(), source: "mllp")
        importer.hl7 = try MappingsLocation.converter(mappings)
        let settings = MLLPServer.Settings(host: host, port: port, maxMessageBytes: maxMessageBytes, idleTimeout: .seconds(idleTimeout),
                                           frameTimeout: .seconds(frameTimeout), maxConnections: maxConnections,
                                           maxConnectionsPerPeer: maxConnectionsPerPeer)
        let server: MLLPServer
        do {
            server = try await MLLPServer.start(importer: importer, settings: settings) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("careledger: \(error)\n".utf8))
            throw ExitCode(69)
        }
        Output.line("mllp listening on \(host):\(server.port); SIGINT or SIGTERM stops it")
        await Signals.wait(for: [SIGINT, SIGTERM])
        await server.stop()
        try await importer.store.close()
    }
}
