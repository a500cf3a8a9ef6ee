public import Foundation
import Ledger
import P2P
public import RecordStore

/// `careledger node start`: the chain on this validator, block production (alone) or consensus with the peers of
/// `config/node.json`, and the anchoring service for a store. The loopback RPC it answers (``handleRPC(_:)``) is
/// served over HTTP by the Gateway module, which also runs this service under swift-service-lifecycle.
public final class NodeService: Sendable {
    public struct Settings: Sendable {
        /// The RPC port on 127.0.0.1 (0: any free port); nil: `config/node.json`'s, or 26657. The server writes the
        /// bound port to `data/rpc.json` (``publishRPCEndpoint(host:port:)``).
        public var rpcPort: Int?
        /// How often a block is cut when transactions wait.
        public var blockIntervalMillis: Int = 100
        /// How long the chain may go without a block when nothing waits: empty blocks keep block time (which
        /// consent queries use) close to the wall clock.
        public var emptyBlockMillis: Int = 5_000
        public var anchoring = AnchoringService.Settings()
        /// Consensus timings on a network of validators (the block and empty-block waits above apply too).
        public var consensus = ConsensusNode.Settings()
        /// Serve `POST /unsafe/disconnect` and `/unsafe/reconnect` (fault tests cut a validator off its peers).
        public var unsafeRPC = false

        public init() {}
    }

    public let home: NodeHome
    public let chain: Chain
    /// The consensus driver on a network of validators; nil for a one-validator chain.
    public let consensus: ConsensusNode?
    public let anchoring: AnchoringService?
    public let settings: Settings
    /// The port the RPC is to listen on: ``Settings/rpcPort``, else `config/node.json`'s, else 26657.
    public let rpcPort: Int
    private let lock: DirectoryLock
    private let tasks: [Task<Void, Never>]

    /// Opens the home (replaying its chain) and starts producing blocks and anchoring `store`.
    public static func start(home: NodeHome, store: (any RecordStore)?, settings: Settings = Settings(),
                             log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> NodeService {
        let genesis = try home.genesis()
        let key = try home.nodeKey()
        try FileManager.default.createDirectory(at: home.dataDirectory, withIntermediateDirectories: true)
        let lock = try DirectoryLock(path: home.dataDirectory.appendingPathComponent("LOCK").path)
        let blocks = try BlockStore(path: home.blocksFile.path, writable: true)
        let network = try home.nodeConfig()
        let chain = try await Chain(genesis: genesis, blocks: blocks, key: key, solo: network == nil)
        log("chain \(genesis.chainId) at height \(await chain.height) (replayed from \(home.blocksFile.path))")
        var consensus: ConsensusNode?
        if let network {
            var config = P2PConfig(chainId: genesis.chainId, key: key, allowed: Set(genesis.validators.map(\.publicKey) + network.peers.map(\.publicKey)))
            config.listenHost = network.p2pHost
            config.listenPort = network.p2pPort
            config.log = { log("p2p: \($0)") }
            var consensusSettings = settings.consensus
            consensusSettings.blockIntervalMillis = network.blockIntervalMillis ?? settings.blockIntervalMillis
            consensusSettings.emptyBlockMillis = network.emptyBlockMillis ?? settings.emptyBlockMillis
            consensus = try await ConsensusNode.start(chain: chain, key: key, p2p: config, peers: network.peers, dataDirectory: home.dataDirectory,
                                                      settings: consensusSettings, log: log)
            log("consensus with \(network.peers.count) peers; p2p on \(network.p2pHost):\(network.p2pPort)")
        }
        // Client transactions acknowledged before a crash and not yet in a block are admitted again (after the
        // consensus node is up, so that they are gossiped).
        let journal = try await chain.openJournal(at: home.dataDirectory.appendingPathComponent("mempool.log").path)
        if journal.readmitted + journal.dropped > 0 {
            log("mempool journal: \(journal.readmitted) transactions admitted again, \(journal.dropped) committed meanwhile or no longer valid")
        }
        let anchoring = store.map { AnchoringService(store: $0, chain: chain, key: key, chainId: genesis.chainId, settings: settings.anchoring) }
        var tasks: [Task<Void, Never>] = []
        if consensus == nil { tasks.append(Task {
            // A block with transactions is followed by one more at the next tick, as CometBFT does: its header
            // carries the state root after them, which consent answers and their proofs are evaluated on.
            var carryRoot = false
            while !Task.isCancelled {
                let now = Chain.nowMillis()
                let waiting = await chain.mempoolCount
                let last = await chain.lastBlockTime
                if waiting > 0 || carryRoot || now - last >= Int64(settings.emptyBlockMillis) {
                    do {
                        let block = try await chain.produceBlock(now: now)
                        carryRoot = !block.block.transactions.isEmpty
                        if !block.block.transactions.isEmpty {
                            log("block \(block.block.header.height): \(block.block.transactions.count) transactions")
                        }
                    } catch {
                        log("cannot produce a block: \(error)")
                    }
                }
                try? await Task.sleep(for: .milliseconds(settings.blockIntervalMillis))
            }
        }) }
        if let anchoring {
            tasks.append(Task { await anchoring.run { log("anchoring: \($0)") } })
        }
        let rpcPort = settings.rpcPort ?? network?.rpcPort ?? 26657
        return NodeService(home: home, chain: chain, consensus: consensus, anchoring: anchoring, rpcPort: rpcPort, settings: settings,
                           lock: lock, tasks: tasks)
    }

    private init(home: NodeHome, chain: Chain, consensus: ConsensusNode?, anchoring: AnchoringService?, rpcPort: Int, settings: Settings,
                 lock: DirectoryLock, tasks: [Task<Void, Never>]) {
        self.home = home
        self.chain = chain
        self.consensus = consensus
        self.anchoring = anchoring
        self.rpcPort = rpcPort
        self.settings = settings
        self.lock = lock
        self.tasks = tasks
    }

    /// Answers one RPC request: the unsafe routes when ``Settings/unsafeRPC`` is set, the batch route, then
    /// ``NodeRPC/handle(_:chain:)``.
    public func handleRPC(_ request: RPCRequest) async -> RPCResponse {
        if settings.unsafeRPC, let consensus, let answer = await NodeRPC.handleUnsafe(request, consensus: consensus) { return answer }
        if let answer = await NodeRPC.handleBatch(request, chain: chain) { return answer }
        return await NodeRPC.handle(request, chain: chain)
    }

    /// Writes `data/rpc.json` once the RPC listens: the CLI and the local network find the node by it.
    public func publishRPCEndpoint(host: String, port: Int) throws {
        let endpoint = RPCEndpoint(host: host, port: port, pid: Int(ProcessInfo.processInfo.processIdentifier))
        try Data(RPCJSON.encode(endpoint)).write(to: home.rpcFile, options: .atomic)
    }

    /// Stops producing and anchoring, removes `data/rpc.json` and releases the home's lock. Everything committed is
    /// already on disk.
    /// Stop the RPC server first, so that no request reaches a stopped node.
    public func stop() async {
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        await consensus?.stop()
        try? FileManager.default.removeItem(at: home.rpcFile)
        lock.release()
    }
}

extension NodeHome {
    public var blocksFile: URL { dataDirectory.appendingPathComponent("blocks.log") }
    /// Where a running node says its RPC listens.
    public var rpcFile: URL { dataDirectory.appendingPathComponent("rpc.json") }

    /// The running node's RPC port, from `data/rpc.json`.
    public func rpcPort() throws -> Int {
        guard FileManager.default.fileExists(atPath: rpcFile.path) else {
            throw NodeError("no node is running on \(root.path) (no \(rpcFile.path)); start it with `careledger node start --home \(root.path)`")
        }
        guard let endpoint = try? RPCJSON.decode(RPCEndpoint.self, from: Array(Data(contentsOf: rpcFile))), endpoint.port > 0 else {
            throw NodeError("\(rpcFile.path) names no port")
        }
        return endpoint.port
    }

    /// A read-only view of the chain in this home, replayed from its block store.
    public func openChain() async throws -> Chain {
        let genesis = try genesis()
        guard FileManager.default.fileExists(atPath: blocksFile.path) else {
            throw NodeError("\(root.path) has no block store yet (\(blocksFile.path)); start the node first")
        }
        return try await Chain(genesis: genesis, blocks: try BlockStore(path: blocksFile.path, writable: false), key: nil)
    }
}
