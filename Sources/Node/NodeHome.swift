public import Foundation
public import Ledger

/// A node's home directory (`careledger node init --home DIR`):
///
/// ```
/// DIR/config/genesis.json         the chain's genesis: chain id, time, validators (shareable)
/// DIR/config/node_key.json        this node's Ed25519 key (mode 0600; never logged)
/// DIR/config/consortium_key.json  the consortium key for patient pseudonyms (mode 0600; shared only among providers)
/// DIR/data/                       block store and state (created by `node start`)
/// ```
public struct NodeHome: Sendable {
    public let root: URL

    public init(_ path: String) {
        root = URL(fileURLWithPath: path)
    }

    public var genesisFile: URL { root.appendingPathComponent("config/genesis.json") }
    public var nodeKeyFile: URL { root.appendingPathComponent("config/node_key.json") }
    public var consortiumKeyFile: URL { root.appendingPathComponent("config/consortium_key.json") }
    public var dataDirectory: URL { root.appendingPathComponent("data") }

    /// Creates the home: fresh keys and a one-validator genesis for `chainId`, the validator carrying the organization
    /// `identifiers` (`system|value`) Consents name it by. Refuses to overwrite an existing one.
    public func initialize(chainId: String, moniker: String, power: UInt64, genesisTime: Date, identifiers: [String] = []) throws -> Genesis {
        let identifiers = ParticipantIdentifiers.canonical(identifiers)
        if let problem = ParticipantIdentifiers.problem(identifiers) { throw NodeError("--identifier: \(problem)") }
        if FileManager.default.fileExists(atPath: genesisFile.path) || FileManager.default.fileExists(atPath: nodeKeyFile.path) {
            throw NodeError("\(root.path) already holds a node (config/genesis.json or config/node_key.json exists); choose another --home")
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("config"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let key = SigningKey()
        try writeSecret(NodeFiles.Secret(type: "ed25519", seed: Base64.encode(key.rawRepresentation)), to: nodeKeyFile)
        var consortium = SystemRandomNumberGenerator()
        let consortiumKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &consortium) }
        try writeSecret(NodeFiles.Secret(type: "hmac-sha256", key: Base64.encode(consortiumKey)), to: consortiumKeyFile)
        let genesis = Genesis(chainId: chainId, genesisTime: genesisTime,
                              validators: [Genesis.Validator(name: moniker, publicKey: key.publicKey, power: power, identifiers: identifiers)])
        try genesis.write(to: genesisFile)
        return genesis
    }

    public func nodeKey() throws -> SigningKey {
        guard let file = try Self.readSecret(nodeKeyFile), file.type == "ed25519", let seed = file.seed.flatMap(Base64.decode), seed.count == 32 else {
            throw NodeError("\(nodeKeyFile.path) is not an Ed25519 key file ({\"type\":\"ed25519\",\"seed\":base64})")
        }
        return try SigningKey(seed: seed)
    }

    public func consortiumKey() throws -> [UInt8] {
        guard let file = try Self.readSecret(consortiumKeyFile), let key = file.key.flatMap(Base64.decode), key.count == 32 else {
            throw NodeError("\(consortiumKeyFile.path) is not a consortium key file ({\"type\":\"hmac-sha256\",\"key\":base64})")
        }
        return key
    }

    /// A key file; nil when it is not one (the caller says which form it expects), a ``NodeError`` when it cannot be read.
    static func readSecret(_ url: URL) throws -> NodeFiles.Secret? {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NodeError("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try? JSONDecoder().decode(NodeFiles.Secret.self, from: data)
    }

    public func genesis() throws -> Genesis { try Genesis.read(from: genesisFile) }

    /// Writes a secret with mode 0600 from the start (never world-readable, even for a moment).
    private func writeSecret(_ secret: NodeFiles.Secret, to url: URL) throws {
        let data = try NodeFiles.encode(secret, pretty: false)
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw NodeError("could not write \(url.path)")
        }
    }
}

/// A node-level failure, with what and where.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The chain's genesis (`genesis.json`): what a verifier trusts. Validators' keys are base64, powers integers.
public struct Genesis: Sendable, Hashable {
    public struct Validator: Sendable, Hashable {
        public var name: String
        public var publicKey: PublicKey
        public var power: UInt64
        /// The organization identifiers (`system|value`, canonical order) by which Consents name this participant;
        /// written to genesis.json only when there are some, so a genesis without them keeps its bytes.
        public var identifiers: [String]

        public init(name: String, publicKey: PublicKey, power: UInt64, identifiers: [String] = []) {
            self.name = name
            self.publicKey = publicKey
            self.power = power
            self.identifiers = identifiers
        }
    }

    public var chainId: String
    public var genesisTime: Date
    public var validators: [Validator]

    public init(chainId: String, genesisTime: Date, validators: [Validator]) {
        self.chainId = chainId
        self.genesisTime = genesisTime
        self.validators = validators
    }

    public var validatorSet: ValidatorSet {
        ValidatorSet(validators.map { Ledger.Validator(key: $0.publicKey, power: $0.power) })
    }

    /// Milliseconds since the epoch.
    public var genesisMillis: Int64 { Int64((genesisTime.timeIntervalSince1970 * 1000).rounded()) }

    public func write(to url: URL) throws {
        let file = NodeFiles.GenesisFile(
            chainId: chainId, genesisTime: genesisTime.formatted(Genesis.instant),
            validators: validators.map { v in
                NodeFiles.GenesisFile.Validator(name: v.name, publicKey: Base64.encode(v.publicKey.bytes), power: v.power,
                                                identifiers: v.identifiers.isEmpty ? nil : v.identifiers)
            })
        try NodeFiles.encode(file, pretty: true).write(to: url, options: .atomic)
    }

    public static func read(from url: URL) throws -> Genesis {
        let o = try NodeFiles.read(NodeFiles.GenesisFile.self, from: url)
        guard !o.chainId.isEmpty else { throw NodeError("\(url.path): no chainId") }
        guard let time = try? Date(o.genesisTime, strategy: instant) else {
            throw NodeError("\(url.path): genesisTime is not an RFC 3339 instant")
        }
        guard !o.validators.isEmpty else { throw NodeError("\(url.path): no validators") }
        var validators: [Validator] = []
        for (n, v) in o.validators.enumerated() {
            guard let key = Base64.decode(v.publicKey), let publicKey = try? PublicKey(bytes: key), v.power > 0 else {
                throw NodeError("\(url.path): validators[\(n)] needs a name, a base64 32-byte publicKey and a positive power")
            }
            var identifiers: [String] = []
            if let list = v.identifiers {
                identifiers = ParticipantIdentifiers.canonical(list)
                guard identifiers.count == list.count else { throw NodeError("\(url.path): validators[\(n)].identifiers lists an identifier twice") }
                if let problem = ParticipantIdentifiers.problem(identifiers) { throw NodeError("\(url.path): validators[\(n)].identifiers: \(problem)") }
            }
            validators.append(Validator(name: v.name, publicKey: publicKey, power: v.power, identifiers: identifiers))
        }
        // Thresholds compare total power in 64 bits: bound it as CometBFT does (MaxTotalVotingPower = Int64.max / 8).
        var total: UInt64 = 0
        for v in validators {
            let (sum, overflow) = total.addingReportingOverflow(v.power)
            guard !overflow, sum <= UInt64(Int64.max) / 8 else { throw NodeError("\(url.path): the validators' powers add up to more than \(UInt64(Int64.max) / 8)") }
            total = sum
        }
        return Genesis(chainId: o.chainId, genesisTime: time, validators: validators)
    }

    static let instant = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
