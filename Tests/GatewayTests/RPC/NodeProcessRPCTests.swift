import Foundation
import Gateway
import Ledger
import Node
import Testing

/// A real node (a one-validator chain in a temporary home) and its RPC in one ``NodeProcess``, as
/// `careledger node start` runs them: the answers are the `Codable` types, `data/rpc.json` names the port, and a
/// graceful shutdown stops the node so that the home opens again.
@Suite(.timeLimit(.minutes(5))) struct NodeProcessRPCTests {
    struct Started {
        let node: NodeService
        let process: NodeProcess
        let running: Task<Void, any Error>
        let port: Int
    }

    static func start(_ home: NodeHome) async throws -> Started {
        var settings = NodeService.Settings()
        settings.rpcPort = 0
        settings.blockIntervalMillis = 20
        let node = try await NodeService.start(home: home, store: nil, settings: settings)
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let rpc = try LoopbackRPC.application(for: node) { line in
            if let port = line.split(separator: ":").last.flatMap({ Int($0) }) { listening.yield(port) }
        }
        let process = NodeProcess(node: node, applications: [rpc], signals: false, gracePeriod: .seconds(60))
        let running = Task {
            defer { listening.finish() }
            try await process.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await running.value
            throw RunningRPC.NotListening()
        }
        return Started(node: node, process: process, running: running, port: port)
    }

    /// The first run: the RPC's answers, then a graceful shutdown, which removes `data/rpc.json` and releases the
    /// home's lock.
    static func firstRun(_ home: NodeHome) async throws -> (NodeStatusAnswer, UInt64) {
        let first = try await Self.start(home)
        #expect(try home.rpcPort() == first.port, "data/rpc.json names the bound port")
        let endpoint = try RPCJSON.decode(RPCEndpoint.self, from: Array(Data(contentsOf: home.rpcFile)))
        #expect(endpoint.host == "127.0.0.1" && endpoint.pid == Int(ProcessInfo.processInfo.processIdentifier))

        let response = try await RPCClient.send(port: first.port, method: "GET", path: "/status")
        #expect(response.status == 200)
        let status = try RPCJSON.decode(NodeStatusAnswer.self, from: response.body)
        #expect(status.chainId == "careledger-rpc-test")
        #expect(status.appHash == status.stateRoot)
        #expect(status.validators.count == 1 && status.validators[0].power == 10)
        // The wire shape docs/node.md describes: these keys, no fewer.
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]).keys
        #expect(Set(keys) == ["chainId", "height", "blockId", "time", "appHash", "stateRoot", "validators", "nextValidators", "mempool"])

        let malformed = try await RPCClient.send(port: first.port, method: "POST", path: "/broadcast_tx", body: [1, 2, 3])
        #expect(malformed.status == 400)
        #expect(try RPCJSON.decode(RPCRefusal.self, from: malformed.body).code == "malformed")
        let unknown = try await RPCClient.send(port: first.port, method: "GET", path: "/nothing")
        #expect(unknown.status == 404)
        #expect(try RPCJSON.decode(RPCRefusal.self, from: unknown.body).code == "not-found")
        let batch = try await RPCClient.send(port: first.port, method: "POST", path: "/broadcast_txs", body: [0, 0, 0, 0])
        #expect(batch.status == 200)
        #expect(try RPCJSON.decode(BatchAnswer.self, from: batch.body) == BatchAnswer(accepted: 0, refused: [], refusedCount: 0))

        let height = await first.node.chain.height
        await first.process.shutdown()
        try await first.running.value
        #expect(!FileManager.default.fileExists(atPath: home.rpcFile.path), "a stopped node removes data/rpc.json")
        return (status, height)
    }

    @Test func statusBroadcastAndShutdownThroughTheProcess() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-rpc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = NodeHome(directory.path)
        _ = try home.initialize(chainId: "careledger-rpc-test", moniker: "solo", power: 10, genesisTime: Date())

        let (status, height) = try await Self.firstRun(home)

        // Stopped cleanly: the home's lock is free and the chain replays.
        let second = try await Self.start(home)
        #expect(await second.node.chain.height >= height)
        let again = try RPCJSON.decode(NodeStatusAnswer.self, from: try await RPCClient.send(port: second.port, method: "GET", path: "/status").body)
        #expect(again.chainId == status.chainId && again.height >= status.height)
        await second.process.shutdown()
        try await second.running.value
    }

    /// `consent submit`'s ledger over the served RPC: the node's refusal code comes back from `/check_consent`, and
    /// `/submit_consent` answers the inclusion once committed.
    @Test func theConsentLedgerReadsRefusalsAndInclusionsOverTheRPC() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-rpc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = NodeHome(directory.path)
        _ = try home.initialize(chainId: "careledger-rpc-consent", moniker: "solo", power: 10, genesisTime: Date())
        let node = try await Self.start(home)
        let ledger = RPCConsentLedger(port: node.port)

        let grant = ConsentDirective(action: .grant, directiveId: [UInt8](repeating: 7, count: 32), patient: [UInt8](repeating: 1, count: 32),
                                     grantees: ["http://example.org/ids|partner-hospital-b"], categories: [], issued: 1_700_000_000_000,
                                     provision: Provision(kind: .permit), consentCommitment: [UInt8](repeating: 9, count: 32))
        var revoke = grant
        revoke.action = .revoke
        revoke.directiveId = [UInt8](repeating: 8, count: 32)
        let refusal = try await ledger.consentProblem(revoke)
        #expect(refusal?.code == .unknownDirective, "\(String(describing: refusal))")

        #expect(try await ledger.consentProblem(grant) == nil)
        let inclusion = try await ledger.record(grant)
        #expect(inclusion.height > 0 && inclusion.result.code == nil)
        #expect(await node.node.chain.state.consents[grant.directiveId] != nil)
        #expect(try await ledger.consentProblem(grant)?.code == .duplicateDirective)

        await node.process.shutdown()
        try await node.running.value
    }
}
