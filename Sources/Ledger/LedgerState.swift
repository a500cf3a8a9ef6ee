import Crypto
public import Contracts

/// A provider in the consortium: its name, the key its node signs with, its bonded stake and whether it is jailed
/// (a jailed participant has no voting power until it is released).
public struct Participant: LedgerEncodable, Hashable {
    public var name: String
    public var nodeKey: PublicKey
    public var stake: UInt64
    public var jailed: Bool

    public init(name: String, nodeKey: PublicKey, stake: UInt64, jailed: Bool = false) {
        self.name = name
        self.nodeKey = nodeKey
        self.stake = stake
        self.jailed = jailed
    }

    public func encode(to w: inout LedgerWriter) {
        w.string(name)
        w.value(nodeKey)
        w.u64(stake)
        w.bool(jailed)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Participant {
        Participant(name: try r.string(), nodeKey: try r.value(), stake: try r.u64(), jailed: try r.bool())
    }
}

/// An anchored batch as the state keeps it: the transaction's fields and where it was committed.
public struct AnchorRecord: LedgerEncodable, Hashable {
    public var batch: AnchorBatch
    public var height: UInt64
    /// The transaction's position in its block.
    public var index: UInt32

    public init(batch: AnchorBatch, height: UInt64, index: UInt32) {
        self.batch = batch
        self.height = height
        self.index = index
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(batch)
        w.u64(height)
        w.u32(index)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> AnchorRecord {
        AnchorRecord(batch: try r.value(), height: try r.u64(), index: try r.u32())
    }
}

/// A consent directive as the state keeps it: the grant, who submitted it, when, and whether it was revoked.
public struct ConsentRecord: LedgerEncodable, Hashable {
    public var directive: ConsentDirective
    public var submitter: PublicKey
    public var height: UInt64
    /// The block time of the grant: the directive is in force from then.
    public var grantedAt: Int64
    /// The block time of the revocation, if revoked.
    public var revokedAt: Int64?

    public init(directive: ConsentDirective, submitter: PublicKey, height: UInt64, grantedAt: Int64, revokedAt: Int64? = nil) {
        self.directive = directive
        self.submitter = submitter
        self.height = height
        self.grantedAt = grantedAt
        self.revokedAt = revokedAt
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(directive)
        w.value(submitter)
        w.u64(height)
        w.i64(grantedAt)
        w.optional(revokedAt) { $0.i64($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ConsentRecord {
        ConsentRecord(directive: try r.value(), submitter: try r.value(), height: try r.u64(), grantedAt: try r.i64(),
                      revokedAt: try r.optional { (r) throws(LedgerDecodingError) in try r.i64() })
    }
}

/// Why a transaction was refused: a code a client can act on, and a message that says what.
public struct TransactionError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case badSignature, badNonce, unknownParticipant, alreadyRegistered, duplicateAnchor, invalidAnchor,
             unknownDirective, duplicateDirective, notSubmitter, insufficientStake, overflow, malformed, invalidEvidence, duplicateEvidence,
             invalidIdentifier, identifierTaken, invalidClient, invalidJWKS, invalidScope, clientTaken,
             invalidContract, unknownContract, proposalPending, unknownProposal, alreadyVoted, notEligible, notOwner, invalidClaim,
             ambiguousParticipant
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The ledger's application state: participants and their stake, each signer's next nonce, anchored batches and
/// consent directives. Every entry is also in a sparse Merkle tree under a typed key, whose root is the state root
/// a block header commits to, so any entry — or its absence — can be proven against a header.
///
/// Applying a transaction is deterministic: it reads only the state, the transaction, and the block's height and
/// time; integers only; no iteration over unordered collections.
public struct LedgerState: Sendable {
    public let chainId: String
    public private(set) var participants: [PublicKey: Participant] = [:]
    public private(set) var nonces: [PublicKey: UInt64] = [:]
    /// Anchored batches by root: the part of the state that grows with every batch (``LayeredMap``).
    public internal(set) var anchors = LayeredMap<[UInt8], AnchorRecord>()
    public internal(set) var consents: [[UInt8]: ConsentRecord] = [:]
    /// Directive ids per patient pseudonym, in the order they were granted.
    public internal(set) var patientDirectives: [[UInt8]: [[UInt8]]] = [:]
    /// Each participant's organization identifiers (only participants that have some).
    public internal(set) var identifiers: [PublicKey: ParticipantIdentifiers] = [:]
    /// Who holds each identifier: one participant at most.
    public internal(set) var identifierHolders: [String: PublicKey] = [:]
    /// Registered SMART clients by client id.
    public internal(set) var clients: [String: ClientRecord] = [:]
    /// Allocation contracts in force, by id (LedgerState+Contracts.swift).
    public internal(set) var contracts: [String: ContractRecord] = [:]
    /// Deploys waiting for votes, by contract id: one at a time per contract.
    public internal(set) var contractProposals: [String: ContractProposal] = [:]
    /// Each contract's standing claims, by ``ClaimKey``.
    public internal(set) var contractClaims: [String: [ClaimKey: Claim]] = [:]
    /// The tree as of the last ``settle()``, and the entries written since (key → value). Writes are buffered so
    /// that a block's updates are hashed into the tree in one batch (``SparseMerkleTree/set(many:)``): the upper
    /// levels of their paths once per block, a key written by many transactions (a signer's nonce) once.
    private var settledTree = SparseMerkleTree()
    private var treeUpdates: [[UInt8]: [UInt8]?] = [:]
    /// The state tree with every write applied.
    public var tree: SparseMerkleTree {
        guard !treeUpdates.isEmpty else { return settledTree }
        var settled = self
        settled.settle()
        return settled.settledTree
    }
    /// Whether applying keeps the tree (and so ``root`` and ``value(of:)``) up to date. A mempool's view sets it to
    /// false: it only decides what applies, which the collections and the offences in the tree decide, and it then
    /// skips the tree work for every admitted transaction. A state with it off has no meaningful root.
    public var maintainsTree = true

    /// The state of a chain at genesis: its initial participants, each with its stake.
    public init(chainId: String, participants: [(key: PublicKey, participant: Participant)]) {
        self.chainId = chainId
        for (key, p) in participants.sorted(by: { $0.key < $1.key }) { put(participant: p, for: key) }
    }

    public var root: [UInt8] { tree.root }

    /// Hashes the buffered writes into the tree. The root is the same before and after (``root`` and ``proof(of:)``
    /// settle a copy when writes are pending); call it once a block is applied so that they need not.
    public mutating func settle() {
        guard !treeUpdates.isEmpty else { return }
        // Keys from Entry.key are always 32 bytes: set(many:) cannot refuse them.
        try? settledTree.set(many: treeUpdates.map { ($0.key, $0.value) })
        treeUpdates = [:]
    }

    /// The validators this state gives: participants with stake that are not jailed, power = stake.
    public var validators: ValidatorSet {
        ValidatorSet(participants.filter { $0.value.stake > 0 && !$0.value.jailed }.map { Validator(key: $0.value.nodeKey, power: $0.value.stake) })
    }

    // MARK: State keys

    /// The state-tree key of each kind of entry: SHA-256 of the tag and the entry's identity (SparseMerkleTree.key).
    public enum Entry {
        case participant(PublicKey)
        case nonce(PublicKey)
        case anchor(root: [UInt8])
        case consent(directiveId: [UInt8])
        case patient(pseudonym: [UInt8])
        case offence([UInt8])
        /// A participant's identifier list (present only when it has one).
        case identifiers(PublicKey)
        /// The participant that holds an identifier (its key), absent when nobody does.
        case identifier(String)
        case client(id: String)
        /// An allocation contract in force (``ContractRecord``).
        case contract(id: String)
        /// A contract deploy waiting for votes (``ContractProposal``).
        case contractProposal(id: String)
        /// A participant's standing claim in a contract.
        case contractClaim(id: String, claimant: String, side: UInt8)
        /// An executed epoch's result with its explanation (``EpochResult``).
        case allocation(id: String, epoch: UInt64)

        public var key: [UInt8] {
            var w = LedgerWriter()
            switch self {
            case .participant(let k):
                w.string("participant")
                w.value(k)
            case .nonce(let k):
                w.string("nonce")
                w.value(k)
            case .anchor(let root):
                w.string("anchor")
                w.fixed(root)
            case .consent(let id):
                w.string("consent")
                w.fixed(id)
            case .patient(let p):
                w.string("patient")
                w.fixed(p)
            case .offence(let o):
                w.string("offence")
                w.byteString(o)
            case .identifiers(let k):
                w.string("identifiers")
                w.value(k)
            case .identifier(let i):
                w.string("identifier")
                w.string(i)
            case .client(let id):
                w.string("client")
                w.string(id)
            case .contract(let id):
                w.string("contract")
                w.string(id)
            case .contractProposal(let id):
                w.string("contract-proposal")
                w.string(id)
            case .contractClaim(let id, let claimant, let side):
                w.string("contract-claim")
                w.string(id)
                w.string(claimant)
                w.u8(side)
            case .allocation(let id, let epoch):
                w.string("allocation")
                w.string(id)
                w.u64(epoch)
            }
            return SparseMerkleTree.key(w.bytes)
        }
    }

    /// The value bytes the tree holds for an entry, nil when absent.
    public func value(of entry: Entry) -> [UInt8]? {
        let key = entry.key
        if let pending = treeUpdates[key] { return pending }
        return settledTree[key]
    }

    /// A proof of the entry's value (or absence) against ``root``.
    public func proof(of entry: Entry) throws(SparseMerkleTree.Error) -> SparseMerkleProof { try tree.proof(for: entry.key) }

    /// Writes an entry's value; nil removes the entry.
    mutating func set(_ entry: Entry, _ value: [UInt8]?) {
        // Offences stay in the tree even for a mempool's view: the duplicate-evidence check reads them there.
        if !maintainsTree {
            guard case .offence = entry else { return }
        }
        treeUpdates.updateValue(value, forKey: entry.key)
    }

    mutating func put(participant: Participant, for key: PublicKey) {
        participants[key] = participant
        set(.participant(key), participant.encoded)
    }

    // MARK: Transactions

    /// Checks `tx` against the state without changing it: what the mempool admits.
    public func check(_ tx: Transaction) throws(TransactionError) {
        var copy = self
        try copy.apply(tx, height: 0, time: 0, index: 0)
    }

    /// Applies `tx`, committed at `height` with block time `time` as the block's `index`-th transaction. On error
    /// nothing changes.
    public mutating func apply(_ tx: Transaction, height: UInt64, time: Int64, index: UInt32, verifier: SignatureVerifier = .direct) throws(TransactionError) {
        guard verifier.verifyTransaction(tx, chainId) else {
            throw TransactionError(.badSignature, "the signature does not verify for \(tx.signer) on chain \(chainId)")
        }
        let expected = nonces[tx.signer] ?? 0
        guard tx.nonce == expected else {
            throw TransactionError(.badNonce, "nonce \(tx.nonce) from \(tx.signer); the next one is \(expected) (a replay or a gap)")
        }
        try tx.body.rules.apply(to: &self, TransactionContext(signer: tx.signer, height: height, time: time, index: index, verifier: verifier))
        nonces[tx.signer] = expected + 1
        var w = LedgerWriter()
        w.u64(expected + 1)
        set(.nonce(tx.signer), w.bytes)
    }

    func participant(_ key: PublicKey) throws(TransactionError) -> Participant {
        guard let p = participants[key] else { throw TransactionError(.unknownParticipant, "\(key) is not a registered participant") }
        return p
    }
}
