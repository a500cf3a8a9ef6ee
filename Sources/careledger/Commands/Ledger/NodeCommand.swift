import ArgumentParser
import Foundation
import Ledger
import Node
import RecordStore

/// `careledger node …`: a validator's home and, next, its process.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Set up and run a ledger validator.",
        subcommands: [NodeInitCommand.self, NodeStartCommand.self, NodeStatusCommand.self]
    )
}

/// `careledger node init --home DIR`.
struct NodeInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node home: a fresh Ed25519 node key, a consortium key for patient pseudonyms, and a one-validator genesis.json.",
        discussion: """
            Writes DIR/config/node_key.json and DIR/config/consortium_key.json (mode 0600) and DIR/config/genesis.json \
            (chain id, genesis time, this node as the only validator). Refuses to overwrite an existing home.
            """
    )

    @Option(help: "The node's home directory.")
    var home: String

    @Option(help: "The chain id every signature is bound to.")
    var chainId = "careledger-local"

    @Option(help: "This validator's name in the genesis.")
    var moniker = "validator-0"

    @Option(help: "This validator's voting power (its stake).")
    var power: UInt64 = 10

    func run() throws {
        let home = NodeHome(self.home)
        do {
            let genesis = try home.initialize(chainId: chainId, moniker: moniker, power: power, genesisTime: Date())
            Output.line("initialized \(home.root.path) for chain \(genesis.chainId)")
            Output.line("  genesis   \(home.genesisFile.path)")
            Output.line("  validator \(moniker) \(Base64.encode(genesis.validators[0].publicKey.bytes)) power \(power)")
        } catch let error as NodeError {
            FileHandle.standardError.write(Data("careledger node init: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `careledger node start --home DIR [--store URL]`.
struct NodeStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run the validator: make blocks (alone or by consensus with its peers), serve the loopback RPC, and anchor the store's new record versions.",
        discussion: """
            Replays DIR/data/blocks.log (checking every block). A home without config/node.json is the only \
            validator of its chain and produces blocks with its key. A home with config/node.json (careledger \
            testnet init) runs Tendermint consensus with the peers it names over authenticated P2P sessions, with \
            a consensus WAL and a double-sign guard in DIR/data, and catches up by block sync. Either way it serves \
            GET /status, POST /broadcast_tx and POST /submit_consent on 127.0.0.1 (the bound port goes to \
            DIR/data/rpc.json), and with --store runs the anchoring service: batches of at most --batch-size \
            versions, or what waited --batch-delay-ms, each anchored by an AnchorBatch transaction whose receipt data \
            is written back to the store. Stops on SIGINT or SIGTERM; a kill -9 loses nothing committed. Exit \
            codes: 0 stopped by a signal; 1 the store or the node could not start; 64 an unknown --store scheme; 66 \
            --home is not a node home that can be read.
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

    /// An unknown --store scheme exits 64 before the node starts (StoreOptions does the same for other commands).
    func validate() throws {
        if let store { try StoreOptions.validate(store: store) }
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
        do {
            service = try await NodeService.start(home: NodeHome(home), store: recordStore, settings: settings) { Output.line($0) }
        } catch {
            FileHandle.standardError.write(Data("careledger node start: \(error)\n".utf8))
            try? await recordStore?.close()
            throw ExitCode(1)
        }
        Output.line("node running; SIGINT or SIGTERM stops it")
        await Signals.wait(for: [SIGINT, SIGTERM])
        Output.line("stopping")
        await service.stop()
        try? await recordStore?.close()
    }
}

/// Waiting for a termination signal in an async command.
enum Signals {
    static func wait(for signals: [Int32]) async {
        let stream = AsyncStream<Void> { continuation in
            var sources: [any DispatchSourceSignal] = []
            for s in signals {
                signal(s, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
                source.setEventHandler { continuation.yield() }
                source.resume()
                sources.append(source)
            }
            nonisolated(unsafe) let keep = sources
            continuation.onTermination = { _ in for s in keep { s.cancel() } }
        }
        for await _ in stream { return }
    }
}
