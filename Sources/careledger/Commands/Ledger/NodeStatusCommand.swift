import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger node status --home DIR [--json] [--height N]`.
struct NodeStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The chain's height, block id, block time, app hash and validators, now or at an earlier height.",
        discussion: """
            Without --height: the latest block, from the running node's RPC, or from the block store when no node \
            answers. With --height N: the chain replayed from the block store through block N, read-only, so it \
            works while the node runs (0 is the genesis). --json prints {"chainId", "height", "blockId", "time", \
            "appHash", "validators": [{"publicKey", "power"}], "nextValidators": [...]} and a few more keys \
            (docs/node.md). Exit codes: 0 printed; 1 no block store yet, or N above the tip; 66 --home is not a node \
            home that can be read (no readable config/genesis.json).
            """
    )

    @Option(help: "The node's home directory.")
    var home: String

    @Flag(help: "Print JSON (keys in docs/node.md).")
    var json = false

    @Option(help: "Report the chain as it was after block N (read from the block store) instead of the latest block.")
    var height: UInt64?

    func run() async throws {
        let home = NodeHome(self.home)
        guard FileManager.default.isReadableFile(atPath: home.genesisFile.path) else {
            FileHandle.standardError.write(Data("careledger node status: \(Self.unreadableHome(home))\n".utf8))
            throw ExitCode(66)
        }
        var status: NodeStatusAnswer
        do {
            if let height {
                status = NodeStatusAnswer(try await Self.status(of: home, at: height))
            } else if let running = await Self.runningStatus(of: home) {
                status = running
                status.running = true
            } else {
                let chain = try await home.openChain()
                status = NodeStatusAnswer(await chain.status)
                status.running = false
            }
        } catch {
            FileHandle.standardError.write(Data("careledger node status: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Output.write(Array(try encoder.encode(status)) + [10])
        } else {
            render(status)
        }
    }

    /// Why `home` (whose genesis.json cannot be read) is not a node home, for the exit-66 message.
    static func unreadableHome(_ home: NodeHome) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: home.root.path, isDirectory: &isDirectory) {
            return "\(home.root.path) does not exist; careledger node init --home \(home.root.path) creates a node home"
        }
        if !isDirectory.boolValue { return "\(home.root.path) is not a directory" }
        if !FileManager.default.fileExists(atPath: home.genesisFile.path) {
            return "\(home.root.path) is not a node home (no config/genesis.json); careledger node init --home \(home.root.path) creates one"
        }
        return "cannot read \(home.genesisFile.path) (permission denied?)"
    }

    /// The running node's `/status`, or nil when no node answers on this home.
    static func runningStatus(of home: NodeHome) async -> NodeStatusAnswer? {
        guard let port = try? home.rpcPort(), let response = try? await RPCClient.send(port: port, method: "GET", path: "/status", timeout: 5),
              response.status == 200 else { return nil }
        return try? RPCJSON.decode(NodeStatusAnswer.self, from: response.body)
    }

    /// The chain in `home` replayed through `height`, read-only (a running node keeps appending beside it).
    static func status(of home: NodeHome, at height: UInt64) async throws -> ChainStatus {
        let genesis = try home.genesis()
        guard FileManager.default.fileExists(atPath: home.blocksFile.path) else {
            throw NodeError("\(home.root.path) has no block store yet (\(home.blocksFile.path)); start the node first")
        }
        let blocks = try BlockStore(path: home.blocksFile.path, writable: false)
        guard height <= blocks.height else {
            throw NodeError("height \(height) is above the tip of \(home.root.path), which is at height \(blocks.height)")
        }
        let chain = try await Chain(genesis: genesis, blocks: blocks, key: nil, solo: false, upTo: height)
        return await chain.status
    }

    /// The human-readable form: one line per field, validators indented below.
    private func render(_ status: NodeStatusAnswer) {
        let running = status.running.map { $0 ? " (running)" : " (stopped)" } ?? ""
        Output.line("chain \(status.chainId) height \(status.height)\(running)")
        Output.line("  block id         \(status.blockId)")
        Output.line("  block time       \(Self.instant(status.time))")
        Output.line("  app hash         \(status.appHash)")
        for (title, list) in [("validators", status.validators), ("next validators", status.nextValidators)] {
            let total = list.reduce(UInt64(0)) { $0 &+ $1.power }
            Output.line("  \(title.padding(toLength: 16, withPad: " ", startingAt: 0)) \(list.count), total power \(total)")
            for v in list { Output.line("    \(v.publicKey)  power \(v.power)") }
        }
    }

    /// Milliseconds since the epoch as an RFC 3339 instant, with the number beside it.
    private static func instant(_ millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        return "\(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))) (\(millis) ms)"
    }
}
