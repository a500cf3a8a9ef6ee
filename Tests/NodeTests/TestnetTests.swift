import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// A network that `Testnet` must refuse, and a word its error must contain.
struct RefusedTestnet: Sendable, CustomTestStringConvertible {
    var name: String
    var expected: String
    var make: @Sendable () throws -> Testnet

    var testDescription: String { name }

    static let all: [RefusedTestnet] = [
        RefusedTestnet(name: "no validators", expected: "1 to 64") { try Testnet(validators: 0) },
        RefusedTestnet(name: "65 validators", expected: "1 to 64") { try Testnet(validators: 65) },
        RefusedTestnet(name: "3 stakes for 4", expected: "3 stakes for 4 validators") { try Testnet(validators: 4, stakes: [1, 2, 3]) },
        RefusedTestnet(name: "5 names for 4", expected: "5 names for 4 validators") { try Testnet(validators: 4, names: ["a", "b", "c", "d", "e"]) },
        RefusedTestnet(name: "a zero stake", expected: "positive") { try Testnet(validators: 2, stakes: [10, 0]) },
        RefusedTestnet(name: "a name used twice", expected: "used twice") { try Testnet(validators: 2, names: ["mercy", "mercy"]) },
        RefusedTestnet(name: "an empty name", expected: "validator 1") { try Testnet(validators: 2, names: ["mercy", ""]) },
        RefusedTestnet(name: "an empty chain id", expected: "chain id") { try Testnet(validators: 1, chainId: "") },
        RefusedTestnet(name: "a chain id with a space", expected: "chain id") { try Testnet(validators: 1, chainId: "care ledger") },
        RefusedTestnet(name: "base port 0", expected: "base port") { try Testnet(validators: 1, basePort: 0) },
        RefusedTestnet(name: "a last RPC port above 65535", expected: "1 to 65504") { try Testnet(validators: 4, basePort: 65505) },
        RefusedTestnet(name: "stakes past the total power limit", expected: "voting power") {
            try Testnet(validators: 2, stakes: [Testnet.maxTotalPower, 1])
        },
        RefusedTestnet(name: "stakes that overflow UInt64", expected: "voting power") { try Testnet(validators: 2, stakes: [.max, .max]) },
    ]
}

/// A spec file that `Testnet.read(from:)` must refuse, and a word its error must contain.
struct RefusedSpec: Sendable, CustomTestStringConvertible {
    var name: String
    var json: String
    var expected: String

    var testDescription: String { name }

    static let all: [RefusedSpec] = [
        RefusedSpec(name: "not an object", json: "[1, 2]", expected: "not a JSON object"),
        RefusedSpec(name: "no providers", json: #"{"chainId": "c"}"#, expected: "providers is missing"),
        RefusedSpec(name: "empty providers", json: #"{"providers": []}"#, expected: "1 to 64"),
        RefusedSpec(name: "a misspelt key", json: #"{"providers": [{"name": "a", "stake": 1}], "basePorts": 1}"#, expected: "unknown key 'basePorts'"),
        RefusedSpec(name: "a misspelt provider key", json: #"{"providers": [{"name": "a", "stakes": 1}]}"#, expected: "providers[0]: unknown key 'stakes'"),
        RefusedSpec(name: "a string stake", json: #"{"providers": [{"name": "a", "stake": "40"}]}"#, expected: "providers[0].stake"),
        RefusedSpec(name: "a negative stake", json: #"{"providers": [{"name": "a", "stake": -4}]}"#, expected: "providers[0].stake"),
        RefusedSpec(name: "a fractional stake", json: #"{"providers": [{"name": "a", "stake": 1.5}]}"#, expected: "providers[0].stake"),
        RefusedSpec(name: "a provider without a name", json: #"{"providers": [{"stake": 4}]}"#, expected: "providers[0].name is missing"),
        RefusedSpec(name: "a base port that does not fit", json: #"{"basePort": 70000, "providers": [{"name": "a"}]}"#, expected: "base port"),
    ]
}

@Suite("testnet init: homes of a network of validators")
struct TestnetTests {
    static let sampleSpec = Repository.root.appendingPathComponent("Samples/network/providers.spec")

    func fourProviders(basePort: Int = 26600) throws -> Testnet {
        try Testnet(chainId: "testnet-tests", basePort: basePort, providers: [
            .init(name: "st-brigid", stake: 40), .init(name: "harbourview", stake: 30),
            .init(name: "alder-creek", stake: 20), .init(name: "northfield", stake: 10),
        ])
    }

    /// The names of the entries of `directory`, sorted.
    func entries(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func everyHomeHoldsTheSameGenesisListingEveryValidatorWithItsStake() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let members = try fourProviders().initialize(in: dir, genesisTime: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(try entries(dir) == ["node0", "node1", "node2", "node3"])
        let first = try Data(contentsOf: members[0].home.genesisFile)
        for member in members {
            #expect(try Data(contentsOf: member.home.genesisFile) == first, "\(member.home.root.path)")
        }
        let genesis = try members[0].home.genesis()
        #expect(genesis.chainId == "testnet-tests")
        #expect(genesis.genesisTime == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(genesis.validators.map(\.name) == ["st-brigid", "harbourview", "alder-creek", "northfield"])
        #expect(genesis.validators.map(\.power) == [40, 30, 20, 10])
        #expect(genesis.validatorSet.totalPower == 100)
        // Each validator's key in the genesis is the key in its own home.
        for (k, member) in members.enumerated() {
            let key = try member.home.nodeKey()
            #expect(key.publicKey == member.publicKey)
            #expect(genesis.validators[k].publicKey == key.publicKey)
        }
    }

    @Test func nodeKeysAreDistinctAndTheConsortiumKeyIsShared() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let members = try fourProviders().initialize(in: dir, genesisTime: Date())
        let nodeKeys = try members.map { try $0.home.nodeKey().rawRepresentation }
        #expect(Set(nodeKeys).count == 4)
        let consortium = try members.map { try $0.home.consortiumKey() }
        #expect(consortium[0].count == 32)
        #expect(Set(consortium).count == 1)
        // A second network gets keys of its own.
        let other = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: other) }
        let second = try fourProviders().initialize(in: other, genesisTime: Date())
        #expect(try second[0].home.consortiumKey() != consortium[0])
        #expect(Set(second.map(\.publicKey)).isDisjoint(with: members.map(\.publicKey)))
    }

    @Test func secretsHaveMode0600AndEachHomeHasAnEmptyDataDirectory() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let members = try Testnet(validators: 3).initialize(in: dir, genesisTime: Date())
        for member in members {
            for secret in [member.home.nodeKeyFile, member.home.consortiumKeyFile] {
                let mode = try FileManager.default.attributesOfItem(atPath: secret.path)[.posixPermissions] as? NSNumber
                #expect(mode?.intValue == 0o600, "\(secret.path)")
            }
            #expect(try entries(member.home.dataDirectory).isEmpty)
        }
    }

    @Test func nodeConfigsCarryPortsFromTheBasePortAndEveryOtherNodeAsAPeer() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let members = try fourProviders(basePort: 31000).initialize(in: dir, genesisTime: Date())
        for (k, member) in members.enumerated() {
            let config = try #require(try member.home.nodeConfig())
            #expect(config.moniker == member.name)
            #expect(config.p2pHost == "127.0.0.1")
            #expect(config.p2pPort == 31000 + 10 * k)
            #expect(config.rpcPort == 31000 + 10 * k + 1)
            let expected = members.enumerated().filter { $0.offset != k }.map {
                NodeConfig.Peer(name: $0.element.name, publicKey: $0.element.publicKey, host: "127.0.0.1", port: 31000 + 10 * $0.offset)
            }
            #expect(config.peers == expected)
        }
    }

    @Test func aHomeOpensAsAChainOfItsGenesis() async throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let members = try fourProviders().initialize(in: dir, genesisTime: Date())
        let home = members[2].home
        let chain = try await Chain(genesis: try home.genesis(), blocks: try BlockStore(path: home.blocksFile.path, writable: true),
                                    key: try home.nodeKey(), solo: false)
        let status = await chain.status
        #expect(status.height == 0)
        #expect(status.validators.totalPower == 100)
        #expect(status.nextValidators == status.validators)
    }

    @Test(arguments: RefusedTestnet.all)
    func refusesAnImpossibleNetwork(_ refused: RefusedTestnet) {
        let error = #expect(throws: NodeError.self) { _ = try refused.make() }
        #expect(error?.message.contains(refused.expected) == true, "\(error?.message ?? "")")
    }

    @Test func refusesADirectoryThatHoldsAHomeAndWritesNothing() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("node0"), withIntermediateDirectories: false)
        let error = #expect(throws: NodeError.self) { try fourProviders().initialize(in: dir, genesisTime: Date()) }
        #expect(error?.message.contains(dir.appendingPathComponent("node0").path) == true, "\(error?.message ?? "")")
        #expect(try entries(dir) == ["node0"])
        #expect(try entries(dir.appendingPathComponent("node0")).isEmpty)

        // A later home in the way refuses the whole network too: node0 … node1 are not written.
        let other = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: other) }
        try FileManager.default.createDirectory(at: other.appendingPathComponent("node2"), withIntermediateDirectories: false)
        let later = #expect(throws: NodeError.self) { try fourProviders().initialize(in: other, genesisTime: Date()) }
        #expect(later?.message.contains("node2") == true)
        #expect(try entries(other) == ["node2"])
    }

    @Test func initializesIntoADirectoryItCreates() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let nested = dir.appendingPathComponent("a/b")
        let members = try Testnet(validators: 1).initialize(in: nested, genesisTime: Date())
        #expect(try entries(nested) == ["node0"])
        #expect(try members[0].home.nodeConfig()?.peers.isEmpty == true)
        #expect(try members[0].home.genesis().validators.map(\.name) == ["validator-0"])
    }

    @Test func readsTheSampleSpec() throws {
        let testnet = try Testnet.read(from: Self.sampleSpec)
        #expect(testnet.chainId == "careledger-sample-network")
        #expect(testnet.basePort == 26600)
        #expect(testnet.providers.map(\.stake) == [40, 30, 20, 10])
        #expect(Set(testnet.providers.map(\.name)).count == 4)
    }

    @Test func aSpecWithoutChainIdPortOrStakesTakesTheDefaults() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("spec.json")
        try Data(#"{"providers": [{"name": "a"}, {"name": "b", "stake": 7}]}"#.utf8).write(to: file)
        let testnet = try Testnet.read(from: file)
        #expect(testnet == (try Testnet(chainId: "careledger-testnet", basePort: 26600, providers: [.init(name: "a", stake: 10), .init(name: "b", stake: 7)])))
    }

    @Test(arguments: RefusedSpec.all)
    func refusesABadSpec(_ refused: RefusedSpec) throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("spec.json")
        try Data(refused.json.utf8).write(to: file)
        let error = #expect(throws: NodeError.self) { _ = try Testnet.read(from: file) }
        #expect(error?.message.contains(refused.expected) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(file.path) == true, "the error names the file: \(error?.message ?? "")")
    }
}
