import Crypto

/// Domain-separation tags: the first field of every byte string that is hashed or signed, so that bytes signed as
/// one kind of thing can never be read as another.
public enum DomainTag {
    public static let transaction = "careledger/tx/v1"
    public static let block = "careledger/block/v1"
    public static let vote = "careledger/vote/v1"
    public static let patient = "careledger/patient/v1"
    public static let manifest = "careledger/manifest/v1"
}

/// A 32-byte hash field.
public enum Hash32 {
    public static let length = 32

    static func read(_ reader: inout LedgerReader) throws(LedgerDecodingError) -> [UInt8] { try reader.fixed(length) }
}

/// A patient's pseudonym on the chain: HMAC-SHA-256 under the consortium key (held by the providers, never on
/// the chain) of the tag and the patient's identifier. Without the key, guessing identifiers and hashing them
/// confirms nothing.
public enum PatientPseudonym {
    public static func derive(consortiumKey: [UInt8], system: String, value: String) -> [UInt8] {
        var message = LedgerWriter()
        message.string(DomainTag.patient)
        message.string(system)
        message.string(value)
        let mac = HMAC<SHA256>.authenticationCode(for: message.bytes, using: SymmetricKey(data: consortiumKey))
        return Array(mac)
    }
}

// MARK: - Transaction bodies

/// A Merkle batch of record commitments from one store: its RFC 6962 root over the commitments (leaf data), the
/// store transaction ids it covers, and the canonical-form version the records were hashed under.
public struct AnchorBatch: LedgerEncodable, Hashable {
    public var root: [UInt8]
    public var leafCount: UInt64
    public var firstTxid: UInt64
    public var lastTxid: UInt64
    public var canonicalForm: String
    /// The participant whose store the batch comes from (the transaction's signer).
    public var submitter: PublicKey

    public init(root: [UInt8], leafCount: UInt64, firstTxid: UInt64, lastTxid: UInt64, canonicalForm: String, submitter: PublicKey) {
        self.root = root
        self.leafCount = leafCount
        self.firstTxid = firstTxid
        self.lastTxid = lastTxid
        self.canonicalForm = canonicalForm
        self.submitter = submitter
    }

    public func encode(to w: inout LedgerWriter) {
        w.fixed(root)
        w.u64(leafCount)
        w.u64(firstTxid)
        w.u64(lastTxid)
        w.string(canonicalForm)
        w.value(submitter)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> AnchorBatch {
        AnchorBatch(root: try Hash32.read(&r), leafCount: try r.u64(), firstTxid: try r.u64(), lastTxid: try r.u64(),
                    canonicalForm: try r.string(), submitter: try r.value())
    }
}

/// A period of validity, in milliseconds since 1970-01-01T00:00:00Z; either end may be open.
public struct Period: LedgerEncodable, Hashable {
    public var start: Int64?
    public var end: Int64?

    public init(start: Int64? = nil, end: Int64? = nil) {
        self.start = start
        self.end = end
    }

    public func contains(_ t: Int64) -> Bool {
        (start.map { t >= $0 } ?? true) && (end.map { t <= $0 } ?? true)
    }

    public func encode(to w: inout LedgerWriter) {
        w.optional(start) { $0.i64($1) }
        w.optional(end) { $0.i64($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Period {
        Period(start: try r.optional { (r) throws(LedgerDecodingError) in try r.i64() },
               end: try r.optional { (r) throws(LedgerDecodingError) in try r.i64() })
    }
}

/// One level of a consent's rules (FHIR R4 Consent.provision): permit or deny, for the actors, purposes, data
/// classes, security labels and codes it names (each "system|code"; an empty list does not restrict), in its
/// period, with nested provisions of the opposite type as exceptions.
public struct Provision: LedgerEncodable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case deny = 0
        case permit = 1
    }

    /// Nesting is bounded: a directive deeper than this is refused.
    public static let maxDepth = 8

    public var kind: Kind
    public var period: Period?
    public var actors: [String]
    public var purposes: [String]
    public var dataClasses: [String]
    public var securityLabels: [String]
    public var codes: [String]
    public var provisions: [Provision]

    public init(kind: Kind, period: Period? = nil, actors: [String] = [], purposes: [String] = [], dataClasses: [String] = [],
                securityLabels: [String] = [], codes: [String] = [], provisions: [Provision] = []) {
        self.kind = kind
        self.period = period
        self.actors = actors
        self.purposes = purposes
        self.dataClasses = dataClasses
        self.securityLabels = securityLabels
        self.codes = codes
        self.provisions = provisions
    }

    public func encode(to w: inout LedgerWriter) {
        w.u8(kind.rawValue)
        w.optional(period) { $0.value($1) }
        w.strings(actors)
        w.strings(purposes)
        w.strings(dataClasses)
        w.strings(securityLabels)
        w.strings(codes)
        w.list(provisions) { $0.value($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Provision {
        try decode(from: &r, depth: 1)
    }

    static func decode(from r: inout LedgerReader, depth: Int) throws(LedgerDecodingError) -> Provision {
        guard depth <= maxDepth else { throw r.fail("provisions nest deeper than \(maxDepth) levels") }
        let start = r.offset
        guard let kind = Kind(rawValue: try r.u8()) else { throw LedgerDecodingError("a provision is deny (0) or permit (1)", at: start) }
        return Provision(kind: kind, period: try r.optional { (r) throws(LedgerDecodingError) in try r.value(Period.self) },
                         actors: try r.strings(), purposes: try r.strings(), dataClasses: try r.strings(),
                         securityLabels: try r.strings(), codes: try r.strings(),
                         provisions: try r.list { (r) throws(LedgerDecodingError) in try Provision.decode(from: &r, depth: depth + 1) })
    }
}

/// A consent change: a grant (a new or replaced directive) or the revocation of one. It carries no PHI: the
/// patient is a pseudonym, codes are vocabulary, the off-chain FHIR Consent is committed to by hash only.
public struct ConsentDirective: LedgerEncodable, Hashable {
    public enum Action: UInt8, Sendable, Hashable {
        case grant = 1
        case revoke = 2
    }

    public var action: Action
    /// The directive's identity on the chain (a revoke names the grant's).
    public var directiveId: [UInt8]
    public var patient: [UInt8]
    /// Who the consent is given to (organizations, "system|value").
    public var grantees: [String]
    public var categories: [String]
    /// When the directive was given, per the Consent's dateTime (milliseconds since the epoch).
    public var issued: Int64
    /// The root provision: its kind is the default decision, its attributes the directive's scope.
    public var provision: Provision
    /// The record commitment of the off-chain FHIR Consent.
    public var consentCommitment: [UInt8]

    public init(action: Action, directiveId: [UInt8], patient: [UInt8], grantees: [String], categories: [String], issued: Int64,
                provision: Provision, consentCommitment: [UInt8]) {
        self.action = action
        self.directiveId = directiveId
        self.patient = patient
        self.grantees = grantees
        self.categories = categories
        self.issued = issued
        self.provision = provision
        self.consentCommitment = consentCommitment
    }

    public func encode(to w: inout LedgerWriter) {
        w.u8(action.rawValue)
        w.fixed(directiveId)
        w.fixed(patient)
        w.strings(grantees)
        w.strings(categories)
        w.i64(issued)
        w.value(provision)
        w.fixed(consentCommitment)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ConsentDirective {
        let start = r.offset
        guard let action = Action(rawValue: try r.u8()) else { throw LedgerDecodingError("a consent action is grant (1) or revoke (2)", at: start) }
        return ConsentDirective(action: action, directiveId: try Hash32.read(&r), patient: try Hash32.read(&r), grantees: try r.strings(),
                                categories: try r.strings(), issued: try r.i64(), provision: try r.value(), consentCommitment: try Hash32.read(&r))
    }
}

/// A provider joining the consortium: its name (an organization, not a patient) and the key its node signs with.
public struct RegisterParticipant: LedgerEncodable, Hashable {
    public var name: String
    public var nodeKey: PublicKey

    public init(name: String, nodeKey: PublicKey) {
        self.name = name
        self.nodeKey = nodeKey
    }

    public func encode(to w: inout LedgerWriter) {
        w.string(name)
        w.value(nodeKey)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> RegisterParticipant {
        RegisterParticipant(name: try r.string(), nodeKey: try r.value())
    }
}

/// What a transaction does; encoded as a one-byte tag and the body.
public enum TransactionBody: LedgerEncodable, Hashable {
    case anchorBatch(AnchorBatch)
    case consentDirective(ConsentDirective)
    case registerParticipant(RegisterParticipant)
    /// Stake added by the signer.
    case bond(amount: UInt64)
    /// Stake withdrawn by the signer.
    case unbond(amount: UInt64)
    /// A validator's equivocation, reported by the signer: the offender is slashed and jailed.
    case evidence(DuplicateVoteEvidence)
    /// The signer's organization identifiers, replacing those it had (``ParticipantIdentifiers``).
    case setIdentifiers(ParticipantIdentifiers)
    /// A SMART client of the signer's, registered or rotated (``RegisterClient``).
    case registerClient(RegisterClient)
    /// An allocation contract's deploy proposal, a vote on one, a claim, a supply update or a withdrawal
    /// (``ContractTransaction``).
    case contract(ContractTransaction)

    public var tag: UInt8 {
        switch self {
        case .anchorBatch: 1
        case .consentDirective: 2
        case .registerParticipant: 3
        case .bond: 4
        case .unbond: 5
        case .evidence: 6
        case .setIdentifiers: 7
        case .registerClient: 8
        case .contract: 9
        }
    }

    public func encode(to w: inout LedgerWriter) {
        w.u8(tag)
        switch self {
        case .anchorBatch(let b): w.value(b)
        case .consentDirective(let d): w.value(d)
        case .registerParticipant(let p): w.value(p)
        case .bond(let amount), .unbond(let amount): w.u64(amount)
        case .evidence(let e): w.value(e)
        case .setIdentifiers(let i): w.value(i)
        case .registerClient(let c): w.value(c)
        case .contract(let c): w.value(c)
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> TransactionBody {
        let start = r.offset
        switch try r.u8() {
        case 1: return .anchorBatch(try r.value())
        case 2: return .consentDirective(try r.value())
        case 3: return .registerParticipant(try r.value())
        case 4: return .bond(amount: try r.u64())
        case 5: return .unbond(amount: try r.u64())
        case 6: return .evidence(try r.value())
        case 7: return .setIdentifiers(try r.value())
        case 8: return .registerClient(try r.value())
        case 9: return .contract(try r.value())
        case let t: throw LedgerDecodingError("unknown transaction kind \(t)", at: start)
        }
    }
}

/// A signed transaction. The signature covers the tag, the chain id, the signer, its nonce and the body, so a
/// transaction cannot be replayed on another chain, or twice on this one (the application takes each signer's
/// nonces in order).
public struct Transaction: LedgerEncodable, Hashable {
    public var signer: PublicKey { didSet { rehash() } }
    public var nonce: UInt64 { didSet { rehash() } }
    public var body: TransactionBody { didSet { rehash() } }
    public var signature: [UInt8] { didSet { rehash() } }
    /// SHA-256 of the encoded transaction, kept with it: a node asks for a transaction's hash at admission, in the
    /// proposal, at commit and for every waiter, and it is computed once per change instead.
    public private(set) var hash: [UInt8] = []

    public init(signer: PublicKey, nonce: UInt64, body: TransactionBody, signature: [UInt8]) {
        self.init(signer: signer, nonce: nonce, body: body, signature: signature, hashed: true)
    }

    private init(signer: PublicKey, nonce: UInt64, body: TransactionBody, signature: [UInt8], hashed: Bool) {
        self.signer = signer
        self.nonce = nonce
        self.body = body
        self.signature = signature
        if hashed { rehash() }
    }

    private mutating func rehash() { hash = Array(SHA256.hash(data: encoded)) }

    /// Signs `body` as `key` with `nonce` on chain `chainId`.
    public init(signing body: TransactionBody, nonce: UInt64, chainId: String, with key: SigningKey) throws {
        let signer = key.publicKey
        self.init(signer: signer, nonce: nonce, body: body, signature: [], hashed: false)
        signature = try key.sign(signBytes(chainId: chainId))
        rehash()  // an initializer's own assignments do not run didSet
    }

    /// The bytes the signature covers.
    public func signBytes(chainId: String) -> [UInt8] {
        var w = LedgerWriter()
        w.string(DomainTag.transaction)
        w.string(chainId)
        w.value(signer)
        w.u64(nonce)
        w.value(body)
        return w.bytes
    }

    public func verifySignature(chainId: String) -> Bool {
        signer.verifies(signature, over: signBytes(chainId: chainId))
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(signer)
        w.u64(nonce)
        w.value(body)
        w.fixed(signature)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Transaction {
        let start = r.offset
        var tx = Transaction(signer: try r.value(), nonce: try r.u64(), body: try r.value(), signature: try r.fixed(Signature.length), hashed: false)
        // The decoder is canonical (fixed-width integers, strict tags and UTF-8), so the bytes just read are the
        // encoding: hash them rather than encode the transaction again.
        tx.hash = Array(SHA256.hash(data: r.input[start..<r.offset]))
        return tx
    }
}
