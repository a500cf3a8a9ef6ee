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
            affects only itself. One log line per message on standard error, without patient data. Stops on SIGINT \
            or SIGTERM.
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

    @Option(help: "Seconds a connection may stay silent before it is closed.")
    var idleTimeout: Int = 300

    func run() async throws {
        var importer = Importer(store: try await storeOptions.open(), source: "mllp")
        importer.hl7 = try MappingsLocation.converter(mappings)
        let settings = MLLPServer.Settings(host: host, port: port, maxMessageBytes: maxMessageBytes, idleTimeoutSeconds: idleTimeout)
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
