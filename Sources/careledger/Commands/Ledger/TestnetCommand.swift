import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger testnet …`: a network of validators on one machine.
struct TestnetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testnet",
        abstract: "Set up a network of validators on this machine, one home per provider.",
        subcommands: [TestnetInitCommand.self]
    )
}

/// `careledger testnet init --dir DIR (--validators N [--stakes …] [--names …] | --spec FILE) [--chain-id ID] [--base-port P]`.
struct TestnetInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write the homes DIR/node0 … DIR/node{N-1} of a network of N validators (1–64).",
        discussion: """
            Every home gets the same genesis.json (all N validators, each with its stake as voting power), the same \
            consortium key (the providers share it; mode 0600), its own Ed25519 node key (mode 0600), an empty data/ \
            and config/node.json: its moniker, P2P port P+10·K and RPC port P+10·K+1 on 127.0.0.1, and every other \
            node as a peer. Start each with `careledger node start --home DIR/nodeK`.

            --spec FILE describes the providers as JSON instead: {"chainId": "…", "basePort": 26600, \
            "providers": [{"name": "…", "stake": 40, "identifiers": ["SYSTEM|VALUE", …]}, …]} \
            (Samples/network/providers.spec); identifiers are the organization identifiers Consents name the provider \
            by (in the genesis; one provider each); --chain-id and --base-port, when given, override its values.

            Nothing is written if anything is wrong, and a DIR that holds any of the homes already is refused. \
            Exit codes: 0 written; 1 refused (the homes exist, the spec \
            is invalid, or the files could not be written); 64 bad options; 66 the spec could not be read.
            """
    )

    @Option(help: "The directory that receives node0 … node{N-1} (created if needed).")
    var dir: String

    @Option(help: "How many validators (1–64).")
    var validators: Int?

    @Option(help: "The validators' stakes (their voting power), comma-separated, one per validator, e.g. 40,30,20,10. Default: 10 each.")
    var stakes: String?

    @Option(help: "The validators' names, comma-separated, one per validator. Default: validator-0, validator-1, …")
    var names: String?

    @Option(help: "The chain id every signature is bound to. Default: the spec's, or careledger-testnet.")
    var chainId: String?

    @Option(help: "Node K listens for peers on P+10·K and serves its RPC on P+10·K+1. Default: the spec's, or 26600.")
    var basePort: Int?

    @Option(help: "A JSON file describing the providers, instead of --validators, --stakes and --names.")
    var spec: String?

    func validate() throws {
        if spec != nil {
            guard validators == nil, stakes == nil, names == nil else {
                throw ValidationError("--spec describes the validators; leave out --validators, --stakes and --names")
            }
        } else if validators == nil {
            throw ValidationError("give --validators N (with --stakes and --names if you like) or --spec FILE")
        } else {
            _ = try network()
        }
    }

    func run() throws {
        let testnet = try network()
        let directory = URL(fileURLWithPath: dir).standardizedFileURL
        let members: [Testnet.Member]
        do {
            members = try testnet.initialize(in: directory, genesisTime: Date())
        } catch {
            FileHandle.standardError.write(Data("careledger testnet init: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let total = testnet.providers.reduce(UInt64(0)) { $0 + $1.stake }
        Output.line("initialized \(members.count) validator\(members.count == 1 ? "" : "s") of chain \(testnet.chainId) in \(directory.path) (total power \(total); a block needs more than \(total * 2 / 3))")
        let width = members.map(\.name.count).max() ?? 0
        for (k, member) in members.enumerated() {
            Output.line("  node\(k)  \(member.name.padding(toLength: width, withPad: " ", startingAt: 0))  home \(member.home.root.path)  p2p \(Testnet.host):\(member.p2pPort)  rpc \(Testnet.host):\(member.rpcPort)  power \(member.power)")
        }
        Output.line("start each node (each in its own terminal, or in the background):")
        for member in members {
            Output.line("  careledger node start --home \(member.home.root.path)")
        }
        Output.line("then: careledger node status --home \(members[0].home.root.path)")
    }

    /// The network the options describe; a bad option exits 64, a bad spec 1, an unreadable one 66.
    private func network() throws -> Testnet {
        if let spec {
            let url = URL(fileURLWithPath: spec)
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                FileHandle.standardError.write(Data("careledger testnet init: cannot read the spec \(url.path)\n".utf8))
                throw ExitCode(66)
            }
            do {
                let described = try Testnet.read(from: url)
                return try Testnet(chainId: chainId ?? described.chainId, basePort: basePort ?? described.basePort, providers: described.providers)
            } catch {
                FileHandle.standardError.write(Data("careledger testnet init: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        let count = validators ?? 0
        let stakeList: [UInt64]? = try stakes.map { list in
            try Self.split(list).map { entry in
                guard let stake = UInt64(entry), stake > 0 else { throw ValidationError("--stakes: '\(entry)' is not a positive integer") }
                return stake
            }
        }
        let nameList = names.map(Self.split)
        do throws(NodeError) {
            return try Testnet(validators: count, stakes: stakeList, names: nameList, chainId: chainId ?? Testnet.defaultChainId,
                               basePort: basePort ?? Testnet.defaultBasePort)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// A comma-separated list, each entry trimmed.
    private static func split(_ list: String) -> [String] {
        list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
