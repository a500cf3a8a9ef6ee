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
        try writeSecret(["type": "ed25519", "seed": Base64.encode(key.rawRepresentation)], to: nodeKeyFile)
        var consortium = SystemRandomNumberGenerator()
        let consortiumKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &consortium) }
        try writeSecret(["type": "hmac-sha256", "key": Base64.encode(consortiumKey)], to: consortiumKeyFile)
        let genesis = Genesis(chainId: chainId, genesisTime: genesisTime,
                              validators: [Genesis.Validator(name: moniker, publicKey: key.publicKey, power: power, identifiers: identifiers)])
        try genesis.write(to: genesisFile)
        return genesis
    }

    public func nodeKey() throws -> SigningKey {
        let object = try Self.readObject(nodeKeyFile)
        guard object["type"] as? String == "ed25519", let seed = (object["seed"] as? String).flatMap(Base64.decode), seed.count == 32 else {
            throw NodeError("\(nodeKeyFile.path) is not an Ed25519 key file ({\"type\":\"ed25519\",\"seed\":base64})")
        }
        return try SigningKey(seed: seed)
    }

    public func consortiumKey() throws -> [UInt8] {
        let object = try Self.readObject(consortiumKeyFile)
        guard let key = (object["key"] as? String).flatMap(Base64.decode), key.count == 32 else {
            throw NodeError("\(consortiumKeyFile.path) is not a consortium key file ({\"type\":\"hmac-sha256\",\"key\":base64})")
        }
        return key
    }

    public func genesis() throws -> Genesis { try Genesis.read(from: genesisFile) }

    /// Writes a secret with mode 0600 from the start (never world-readable, even for a moment).
    private func writeSecret(_ object: [String: String], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw NodeError("could not write \(url.path)")
        }
    }

    static func readObject(_ url: URL) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NodeError("cannot read \(url.path): \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NodeError("\(url.path) is not a JSON object")
        }
        return object
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
        let object: [String: Any] = [
            "chainId": chainId,
            "genesisTime": genesisTime.formatted(Genesis.instant),
            "validators": validators.map { v in
                var o: [String: Any] = ["name": v.name, "publicKey": Base64.encode(v.publicKey.bytes), "power": v.power]
                if !v.identifiers.isEmpty { o["identifiers"] = v.identifiers }
                return o
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: url, options: .atomic)
    }

    public static func read(from url: URL) throws -> Genesis {
        let o = try NodeHome.readObject(url)
        guard let chainId = o["chainId"] as? String, !chainId.isEmpty else { throw NodeError("\(url.path): no chainId") }
        guard let time = (o["genesisTime"] as? String).flatMap({ try? Date($0, strategy: instant) }) else {
            throw NodeError("\(url.path): genesisTime is not an RFC 3339 instant")
        }
        guard let list = o["validators"] as? [[String: Any]], !list.isEmpty else { throw NodeError("\(url.path): no validators") }
        var validators: [Validator] = []
        for (n, v) in list.enumerated() {
            guard let name = v["name"] as? String, let key = (v["publicKey"] as? String).flatMap(Base64.decode),
                  let publicKey = try? PublicKey(bytes: key), let power = (v["power"] as? NSNumber)?.uint64Value, power > 0 else {
                throw NodeError("\(url.path): validators[\(n)] needs a name, a base64 32-byte publicKey and a positive power")
            }
            var identifiers: [String] = []
            if let value = v["identifiers"] {
                guard let list = value as? [String] else { throw NodeError("\(url.path): validators[\(n)].identifiers must be a list of SYSTEM|VALUE strings") }
                identifiers = ParticipantIdentifiers.canonical(list)
                guard identifiers.count == list.count else { throw NodeError("\(url.path): validators[\(n)].identifiers lists an identifier twice") }
                if let problem = ParticipantIdentifiers.problem(identifiers) { throw NodeError("\(url.path): validators[\(n)].identifiers: \(problem)") }
            }
            validators.append(Validator(name: name, publicKey: publicKey, power: power, identifiers: identifiers))
        }
        // Thresholds compare total power in 64 bits: bound it as CometBFT does (MaxTotalVotingPower = Int64.max / 8).
        var total: UInt64 = 0
        for v in validators {
            let (sum, overflow) = total.addingReportingOverflow(v.power)
            guard !overflow, sum <= UInt64(Int64.max) / 8 else { throw NodeError("\(url.path): the validators' powers add up to more than \(UInt64(Int64.max) / 8)") }
            total = sum
        }
        return Genesis(chainId: chainId, genesisTime: time, validators: validators)
    }

    static let instant = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
