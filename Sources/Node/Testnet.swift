public import Foundation
public import Ledger

/// A network of validators on one machine (`careledger testnet init`): one genesis listing every provider with its
/// stake as voting power, one consortium key the providers share, and per provider a home with its own Ed25519 key
/// and a `config/node.json` naming every other node as a peer on 127.0.0.1.
///
/// Node K (from 0) listens for peers on `basePort + 10·K` and serves its RPC on `basePort + 10·K + 1`. Everything
/// is checked when the value is made, so ``initialize(in:genesisTime:)`` fails only on the file system, and then
/// leaves nothing behind.
public struct Testnet: Sendable, Hashable {
    /// A participating provider: its validator's name (the moniker in `node.json` and the name in the genesis), its
    /// stake, which is its voting power, and the organization identifiers (`system|value`) Consents name it by.
    public struct Provider: Sendable, Hashable {
        public var name: String
        public var stake: UInt64
        public var identifiers: [String]

        public init(name: String, stake: UInt64, identifiers: [String] = []) {
            self.name = name
            self.stake = stake
            self.identifiers = identifiers
        }
    }

    /// One home that ``initialize(in:genesisTime:)`` wrote.
    public struct Member: Sendable {
        /// `DIR/nodeK`.
        public var home: NodeHome
        public var name: String
        public var publicKey: PublicKey
        public var power: UInt64
        public var p2pPort: Int
        public var rpcPort: Int
    }

    public static let maxValidators = 64
    public static let defaultChainId = "careledger-testnet"
    public static let defaultBasePort = 26600
    public static let defaultStake: UInt64 = 10
    /// Ports per node: the P2P port, then the RPC port, then room for more.
    public static let portStride = 10
    /// CometBFT's chain id limit.
    public static let maxChainIdLength = 50
    public static let maxNameLength = 64
    /// CometBFT's `MaxTotalVotingPower` (int64 max / 8): two-thirds thresholds and proposer priorities stay far
    /// from overflow.
    public static let maxTotalPower = UInt64(Int64.max) / 8
    /// Where every node of a testnet listens for its peers.
    public static let host = "127.0.0.1"

    public let chainId: String
    /// Node 0's P2P port.
    public let basePort: Int
    /// The validators, in the order of their homes (`node0` first).
    public let providers: [Provider]

    /// A network of `providers`, checked: 1 to 64 of them with distinct names and positive stakes, a chain id, and
    /// ports that fit.
    public init(chainId: String, basePort: Int, providers: [Provider]) throws(NodeError) {
        guard (1...Self.maxValidators).contains(providers.count) else {
            throw NodeError("a testnet has 1 to \(Self.maxValidators) validators, found \(providers.count)")
        }
        guard !chainId.isEmpty, chainId.count <= Self.maxChainIdLength, chainId.unicodeScalars.allSatisfy(Self.isVisible) else {
            throw NodeError("the chain id must be 1 to \(Self.maxChainIdLength) characters without spaces or control characters, found '\(chainId)'")
        }
        var seen: Set<String> = []
        var held: [String: String] = [:]
        var total: UInt64 = 0
        for (k, provider) in providers.enumerated() {
            guard !provider.name.isEmpty, provider.name.count <= Self.maxNameLength,
                  provider.name.unicodeScalars.allSatisfy({ Self.isVisible($0) || $0 == " " }) else {
                throw NodeError("validator \(k): a name is 1 to \(Self.maxNameLength) characters without control characters, found '\(provider.name)'")
            }
            guard seen.insert(provider.name).inserted else { throw NodeError("validator \(k): the name '\(provider.name)' is used twice; names must be distinct") }
            guard provider.stake > 0 else { throw NodeError("validator \(k) (\(provider.name)): the stake must be a positive integer, found 0") }
            let identifiers = ParticipantIdentifiers.canonical(provider.identifiers)
            guard identifiers.count == provider.identifiers.count else { throw NodeError("validator \(k) (\(provider.name)): an identifier is listed twice") }
            if let problem = ParticipantIdentifiers.problem(identifiers) { throw NodeError("validator \(k) (\(provider.name)): identifiers: \(problem)") }
            for identifier in identifiers {
                if let other = held.updateValue(provider.name, forKey: identifier) {
                    throw NodeError("validator \(k) (\(provider.name)): the identifier '\(identifier)' is \(other)'s too; an identifier names one provider")
                }
            }
            let (sum, overflow) = total.addingReportingOverflow(provider.stake)
            guard !overflow, sum <= Self.maxTotalPower else {
                throw NodeError("the stakes add up to more than \(Self.maxTotalPower), the most voting power a chain may hold")
            }
            total = sum
        }
        let lastPort = Self.maxPort - 1 - Self.portStride * (providers.count - 1)
        guard (1...lastPort).contains(basePort) else {
            throw NodeError("with \(providers.count) validators the base port must be 1 to \(lastPort) (node K uses base+\(Self.portStride)·K and base+\(Self.portStride)·K+1, at most \(Self.maxPort)), found \(basePort)")
        }
        self.chainId = chainId
        self.basePort = basePort
        self.providers = providers.map { Provider(name: $0.name, stake: $0.stake, identifiers: ParticipantIdentifiers.canonical($0.identifiers)) }
    }

    /// `validators` providers named `names` (default `validator-0` …) with `stakes` (default 10 each); both lists,
    /// when given, have one entry per validator.
    public init(validators: Int, stakes: [UInt64]? = nil, names: [String]? = nil, chainId: String = Self.defaultChainId,
                basePort: Int = Self.defaultBasePort) throws(NodeError) {
        guard (1...Self.maxValidators).contains(validators) else {
            throw NodeError("a testnet has 1 to \(Self.maxValidators) validators, found \(validators)")
        }
        if let stakes, stakes.count != validators {
            throw NodeError("\(stakes.count) stakes for \(validators) validators: give one stake per validator")
        }
        if let names, names.count != validators {
            throw NodeError("\(names.count) names for \(validators) validators: give one name per validator")
        }
        let providers = (0..<validators).map { k in
            Provider(name: names?[k] ?? "validator-\(k)", stake: stakes?[k] ?? Self.defaultStake)
        }
        try self.init(chainId: chainId, basePort: basePort, providers: providers)
    }

    /// Reads a spec file: `{"chainId": "…", "basePort": 26600, "providers": [{"name": "…", "stake": 40, "identifiers":
    /// ["system|value"]}, …]}`. `chainId`, `basePort`, each `stake` and `identifiers` are optional (`careledger-testnet`,
    /// 26600, 10, none); other keys are refused,
    /// so that a misspelt one is not silently ignored.
    public static func read(from url: URL) throws -> Testnet {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NodeError("cannot read \(url.path): \(error.localizedDescription)")
        }
        try SpecFile.refuseUnknownKeys(data, in: url)
        let spec: SpecFile
        do {
            spec = try JSONDecoder().decode(SpecFile.self, from: data)
        } catch let error as DecodingError {
            throw NodeError("\(url.path): \(SpecFile.describe(error))")
        }
        do throws(NodeError) {
            return try Testnet(chainId: spec.chainId ?? defaultChainId, basePort: spec.basePort ?? defaultBasePort,
                               providers: spec.providers.map { Provider(name: $0.name, stake: $0.stake ?? defaultStake, identifiers: $0.identifiers ?? []) })
        } catch {
            throw NodeError("\(url.path): \(error.message)")
        }
    }

    /// Node `k`'s P2P port.
    public func p2pPort(ofNode k: Int) -> Int { basePort + Self.portStride * k }
    /// Node `k`'s RPC port.
    public func rpcPort(ofNode k: Int) -> Int { p2pPort(ofNode: k) + 1 }

    /// The homes `directory/node0` … `directory/node{N-1}` this network is written to.
    public func homes(in directory: URL) -> [NodeHome] {
        providers.indices.map { NodeHome(directory.appendingPathComponent("node\($0)").path) }
    }

    /// Writes one home per provider under `directory` (created if needed): fresh node keys, one shared consortium
    /// key, one shared genesis at `genesisTime`, and each node's `config/node.json`. Refuses a directory that holds
    /// any of the homes already. The homes are written into a private staging directory beside them and moved into
    /// place at the end; on any failure nothing is left behind.
    @discardableResult
    public func initialize(in directory: URL, genesisTime: Date) throws -> [Member] {
        let fm = FileManager.default
        let homes = self.homes(in: directory)
        for home in homes where fm.fileExists(atPath: home.root.path) {
            throw NodeError("\(home.root.path) already exists; testnet init writes new homes only (choose another --dir or remove it)")
        }
        let keys = providers.map { _ in SigningKey() }
        var random = SystemRandomNumberGenerator()
        let consortiumKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let genesis = Genesis(chainId: chainId, genesisTime: genesisTime,
                              validators: zip(providers, keys).map { Genesis.Validator(name: $0.name, publicKey: $1.publicKey, power: $0.stake, identifiers: $0.identifiers) })
        let members = providers.indices.map { k in
            Member(home: homes[k], name: providers[k].name, publicKey: keys[k].publicKey, power: providers[k].stake,
                   p2pPort: p2pPort(ofNode: k), rpcPort: rpcPort(ofNode: k))
        }

        let staging = directory.appendingPathComponent(".testnet-init-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            try fm.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError("cannot create \(staging.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: staging) }

        // The genesis is serialized once and copied, so every home holds the same bytes.
        let genesisFile = staging.appendingPathComponent("genesis.json")
        let genesisBytes: Data
        do {
            try genesis.write(to: genesisFile)
            genesisBytes = try Data(contentsOf: genesisFile)
        } catch {
            throw NodeError("cannot write \(genesisFile.path): \(error.localizedDescription)")
        }
        let consortiumFile = Self.secret(NodeFiles.Secret(type: "hmac-sha256", key: Base64.encode(consortiumKey)))
        for (k, member) in members.enumerated() {
            let home = NodeHome(staging.appendingPathComponent("node\(k)").path)
            let peers = members.enumerated().filter { $0.offset != k }.map {
                NodeConfig.Peer(name: $0.element.name, publicKey: $0.element.publicKey, host: Self.host, port: $0.element.p2pPort)
            }
            let config = NodeConfig(moniker: member.name, rpcPort: member.rpcPort, p2pHost: Self.host, p2pPort: member.p2pPort, peers: peers)
            do {
                try fm.createDirectory(at: home.root.appendingPathComponent("config"), withIntermediateDirectories: true)
                try fm.createDirectory(at: home.dataDirectory, withIntermediateDirectories: true)
                try Self.write(Self.secret(NodeFiles.Secret(type: "ed25519", seed: Base64.encode(keys[k].rawRepresentation))), to: home.nodeKeyFile, mode: 0o600)
                try Self.write(consortiumFile, to: home.consortiumKeyFile, mode: 0o600)
                try Self.write(genesisBytes, to: home.genesisFile, mode: 0o644)
                try config.write(to: home.nodeConfigFile)
            } catch let error as NodeError {
                throw error
            } catch {
                throw NodeError("cannot write \(home.root.path): \(error.localizedDescription)")
            }
        }

        var moved: [URL] = []
        for (k, home) in homes.enumerated() {
            do {
                try fm.moveItem(at: staging.appendingPathComponent("node\(k)"), to: home.root)
                moved.append(home.root)
            } catch {
                for url in moved { try? fm.removeItem(at: url) }
                throw NodeError("cannot move node\(k) into \(home.root.path): \(error.localizedDescription)")
            }
        }
        return members
    }

    private static let maxPort = 65535

    /// A printable character other than a space.
    private static func isVisible(_ scalar: Unicode.Scalar) -> Bool {
        !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control && scalar.properties.generalCategory != .format
    }

    /// A key file's bytes, in the form `NodeHome` reads.
    private static func secret(_ secret: NodeFiles.Secret) -> Data {
        // Two string members: encoding cannot fail.
        (try? NodeFiles.encode(secret, pretty: false)) ?? Data()
    }

    /// Creates `url` with `mode` from the start, so a secret is never readable by others, even for a moment.
    private static func write(_ data: Data, to url: URL, mode: Int) throws {
        guard !data.isEmpty, FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: mode]) else {
            throw NodeError("could not write \(url.path)")
        }
    }
}

/// The spec file's shape, decoded strictly.
private struct SpecFile: Decodable {
    struct Entry: Decodable {
        var name: String
        var stake: UInt64?
        var identifiers: [String]?

        enum CodingKeys: String, CodingKey { case name, stake, identifiers }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            stake = try SpecFile.number(UInt64.self, c, .stake)
            identifiers = try c.decodeIfPresent([String].self, forKey: .identifiers)
        }
    }

    var chainId: String?
    var basePort: Int?
    var providers: [Entry]

    enum CodingKeys: String, CodingKey { case chainId, basePort, providers }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chainId = try c.decodeIfPresent(String.self, forKey: .chainId)
        basePort = try SpecFile.number(Int.self, c, .basePort)
        providers = try c.decode([Entry].self, forKey: .providers)
    }

    /// An optional integer member. A number of another kind (negative, fractional, too large) is reported at its
    /// key: the decoder itself would report it as invalid JSON, nowhere in particular.
    static func number<T: Decodable & FixedWidthInteger, K: CodingKey>(_ type: T.Type, _ c: KeyedDecodingContainer<K>, _ key: K) throws -> T? {
        guard c.contains(key) else { return nil }
        do {
            return try c.decode(T.self, forKey: key)
        } catch {
            throw DecodingError.typeMismatch(T.self, DecodingError.Context(codingPath: c.codingPath + [key], debugDescription: "not \(T.self)"))
        }
    }

    static let keys: Set<String> = ["chainId", "basePort", "providers"]
    static let providerKeys: Set<String> = ["name", "stake", "identifiers"]

    /// Names the first key the format does not have.
    static func refuseUnknownKeys(_ data: Data, in url: URL) throws {
        guard let names = try? JSONDecoder().decode(MemberNames.self, from: data) else {
            throw NodeError("\(url.path) is not a JSON object ({\"chainId\", \"basePort\", \"providers\": [{\"name\", \"stake\", \"identifiers\"}]})")
        }
        if let key = names.names.sorted().first(where: { !keys.contains($0) }) {
            throw NodeError("\(url.path): unknown key '\(key)' (a spec has chainId, basePort and providers)")
        }
        for (n, entry) in names.providers.enumerated() {
            if let key = entry.sorted().first(where: { !providerKeys.contains($0) }) {
                throw NodeError("\(url.path): providers[\(n)]: unknown key '\(key)' (a provider has name, stake and identifiers)")
            }
        }
    }

    /// The member names of a spec and of each of its providers (none for an entry that is not an object: the
    /// decoding that follows names what is wrong with it).
    struct MemberNames: Decodable {
        struct Name: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        struct Object: Decodable {
            var names: [String]
            init(from decoder: any Decoder) throws { names = (try? decoder.container(keyedBy: Name.self).allKeys.map(\.stringValue)) ?? [] }
        }

        var names: [String]
        var providers: [[String]]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Name.self)
            names = c.allKeys.map(\.stringValue)
            providers = ((try? c.decode([Object].self, forKey: Name(stringValue: "providers"))) ?? []).map(\.names)
        }
    }

    /// Where and what, in the spec's terms: `providers[2].stake: expected a positive integer`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the document" : text
        }
        func expected(_ type: Any.Type) -> String {
            switch type {
            case is UInt64.Type, is UInt64?.Type: return "a positive integer"
            case is Int.Type, is Int?.Type: return "an integer"
            case is String.Type, is String?.Type: return "a string"
            case is [Any].Type, is [String].Type, is [String]?.Type: return "a list of SYSTEM|VALUE strings"
            default: return "\(type)"
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(expected(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(expected(type)), found null"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
