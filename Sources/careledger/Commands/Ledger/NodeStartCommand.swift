import ArgumentParser
import Foundation
import Gateway
import Logging
import Node
import RecordStore
import Services

/// `careledger node start --home DIR [--store URL [--http HOST:PORT]]`.
struct NodeStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run the validator: make blocks (alone or by consensus with its peers), serve the loopback RPC, and anchor the store's new record versions.",
        discussion: """
            Replays DIR/data/blocks.log (checking every block). A home without config/node.json is the only \
            validator of its chain and produces blocks with its key. A home with config/node.json (careledger \
            testnet init) runs Tendermint consensus with the peers it names over authenticated P2P sessions, with \
            a consensus WAL and a double-sign guard in DIR/data, and catches up by block sync. Either way it serves \
            GET /status, GET /health, POST /broadcast_tx and POST /submit_consent on 127.0.0.1 (the bound port goes \
            to DIR/data/rpc.json), and with --store runs the anchoring service: batches of at most --batch-size \
            versions, or what waited --batch-delay-ms, each anchored by an AnchorBatch transaction whose receipt data \
            is written back to the store. SIGINT or SIGTERM stops it gracefully: the RPC finishes the requests in \
            flight (for up to 10 s), then the node stops; a kill -9 loses nothing committed. With --http (and \
            --store) the same process also serves the FHIR gateway of `careledger serve` on HOST:PORT over that \
            store, printing `listening on URL`, and stops it first on a signal. Exit \
            codes: 0 stopped by a signal; 1 the store, the node or the gateway could not start; 64 an unknown \
            --store scheme, a bad --http or --http without --store; 66 --home is not a node home that can be read.
            """
    )

    @Option(help: "The node's home directory (careledger node init).")
    var home: String

    @Option(help: "The record store to anchor: postgres://…, sqlite:PATH or a file path (any other scheme exits 64). Without it, the node only runs the chain.")
    var store: String?

    @Option(help: "RPC port on 127.0.0.1 (0: any free port; default: config/node.json's, or 26657).")
    var rpcPort: Int?

    @Option(help: "Milliseconds between blocks while transactions wait.")
    var blockIntervalMs = 100

    @Option(help: "Milliseconds without a block after which an empty one is made (keeps block time current).")
    var emptyBlockMs = 5_000

    @Option(help: "Anchor batch size N: a batch is cut as soon as this many versions wait.")
    var batchSize = 10_000

    @Option(help: "Anchor batch delay T: a smaller batch is cut once its oldest version waited this many milliseconds.")
    var batchDelayMs = 200

    @Flag(help: "Serve POST /unsafe/disconnect and /unsafe/reconnect and GET /unsafe/consensus on the loopback RPC (fault tests).")
    var unsafeRpc = false

    @Option(help: ArgumentHelp("Also serve the FHIR gateway (as careledger serve does) on this address over --store (port 0 picks a free port).",
                               valueName: "HOST:PORT"))
    var http: String?

    /// An unknown --store scheme exits 64 before the node starts (StoreOptions does the same for other commands);
    /// so do a bad --http and --http without a store to serve.
    func validate() throws {
        if let store { try StoreOptions.validate(store: store) }
        if let http {
            guard store != nil else { throw ValidationError("--http serves the gateway over a store: give --store too") }
            do {
                _ = try GatewayConfiguration.parseListen(http)
            } catch {
                throw ValidationError(error.description.replacingOccurrences(of: "--listen", with: "--http"))
            }
        }
    }

    func run() async throws {
        guard FileManager.default.isReadableFile(atPath: NodeHome(home).genesisFile.path) else {
            FileHandle.standardError.write(Data("careledger node start: \(NodeStatusCommand.unreadableHome(NodeHome(home)))\n".utf8))
            throw ExitCode(66)
        }
        var settings = NodeService.Settings()
        settings.rpcPort = rpcPort
        settings.blockIntervalMillis = max(1, blockIntervalMs)
        settings.emptyBlockMillis = max(1, emptyBlockMs)
        settings.anchoring = AnchoringService.Settings(maxLeaves: max(1, batchSize), maxDelayMillis: max(0, batchDelayMs))
        settings.unsafeRPC = unsafeRpc
        let recordStore: (any RecordStore)?
        do {
            if let store {
                recordStore = try await StoreLocation.open(store)
            } else {
                recordStore = nil
            }
        } catch {
            FileHandle.standardError.write(Data("careledger node start: cannot open the store: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let service: NodeService
        let process: NodeProcess
        do {
            service = try await NodeService.start(home: NodeHome(home), store: recordStore, settings: settings) { Output.line($0) }
            // The HTTP servers of this process, after the node; one more application is one more element.
            let rpc = try LoopbackRPC.application(for: service) { Output.line($0) }
            if let http, let recordStore {
                let gateway = try Self.gateway(listen: http, home: NodeHome(home), store: recordStore)
                process = NodeProcess(node: service, applications: [rpc, gateway])
            } else {
                process = NodeProcess(node: service, applications: [rpc])
            }
        } catch {
            FileHandle.standardError.write(Data("careledger node start: \(error)\n".utf8))
            try? await recordStore?.close()
            throw ExitCode(1)
        }
        Output.line("node running; SIGINT or SIGTERM stops it")
        do {
            // Returns after a signal once the servers finished their requests and the node stopped.
            try await process.run()
        } catch {
            FileHandle.standardError.write(Data("careledger node start: \(error)\n".utf8))
            try? await recordStore?.close()
            throw ExitCode(1)
        }
        Output.line("stopped")
        try? await recordStore?.close()
    }
}

extension NodeStartCommand {
    /// The gateway `careledger serve` runs, over this node's home and store, listening on `listen`; it prints
    /// `listening on URL` once bound (the real port for port 0).
    static func gateway(listen: String, home: NodeHome, store: any RecordStore) throws -> GatewayApplication.App {
        let address = try GatewayConfiguration.parseListen(listen)
        let configuration = GatewayConfiguration(host: address.host, port: address.port)
        let dependencies = try GatewayDependencies.forNode(home: home, store: store, logger: Logger(label: "careledger.gateway"))
        return try GatewayApplication.make(configuration: configuration, dependencies: dependencies) { url in
            Output.line("listening on \(url)")
        }
    }
}
