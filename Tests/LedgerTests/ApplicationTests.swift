import Crypto
import Ledger
import Testing

@Suite("Ledger application state machine")
struct ApplicationTests {
    static let chainId = "careledger-test"

    struct Fixture {
        let a: SigningKey
        let b: SigningKey
        let outsider: SigningKey

        init() throws {
            a = try SigningKey(seed: [UInt8](repeating: 11, count: 32))
            b = try SigningKey(seed: [UInt8](repeating: 12, count: 32))
            outsider = try SigningKey(seed: [UInt8](repeating: 13, count: 32))
        }

        func genesis() -> LedgerState {
            LedgerState(chainId: ApplicationTests.chainId, participants: [
                (a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 30)),
                (b.publicKey, Participant(name: "Hospital B", nodeKey: b.publicKey, stake: 10)),
            ])
        }
    }

    static func tx(_ body: TransactionBody, _ nonce: UInt64, _ key: SigningKey, chain: String = chainId) throws -> Transaction {
        try Transaction(signing: body, nonce: nonce, chainId: chain, with: key)
    }

    static func anchor(_ seed: UInt8, by key: SigningKey) -> TransactionBody {
        .anchorBatch(AnchorBatch(root: Merkle.root(leaves: [[seed]]), leafCount: 1, firstTxid: 1, lastTxid: 1,
                                 canonicalForm: "careledger-canonical/1", submitter: key.publicKey))
    }

    static func grant(_ id: UInt8, patient: UInt8) -> ConsentDirective {
        ConsentDirective(action: .grant, directiveId: Array(SHA256.hash(data: [id])), patient: Array(SHA256.hash(data: [patient, 0xFF])),
                         grantees: ["urn:example|hospital-b"], categories: ["http://loinc.org|59284-0"], issued: 1_000,
                         provision: Provision(kind: .permit), consentCommitment: Array(SHA256.hash(data: [id, 1])))
    }

    /// A block over `txs` at the application's next height.
    static func block(_ app: LedgerApplication, _ txs: [Transaction], time: Int64 = 5_000, proposer: PublicKey) -> Block {
        let zero = [UInt8](repeating: 0, count: 32)
        let header = BlockHeader(chainId: app.chainId, height: app.height + 1, time: time, previousBlockId: zero,
                                 transactionsRoot: Block.transactionsRoot(txs), stateRoot: app.committedRoot,
                                 validatorsHash: app.state.validators.hash, nextValidatorsHash: app.state.validators.hash, proposer: proposer)
        return Block(header: header, transactions: txs, lastCommit: nil)
    }

    @Test func transactionsApplyInNonceOrderAndReplaysAreRefused() throws {
        let f = try Fixture()
        var state = f.genesis()
        let first = try Self.tx(Self.anchor(1, by: f.a), 0, f.a)
        try state.apply(first, height: 1, time: 10, index: 0)
        #expect(throws: TransactionError.self) { try state.apply(first, height: 2, time: 20, index: 0) }
        do throws(TransactionError) { try state.apply(first, height: 2, time: 20, index: 0) } catch { #expect(error.code == .badNonce) }
        let gap = try Self.tx(Self.anchor(2, by: f.a), 5, f.a)
        do throws(TransactionError) { try state.apply(gap, height: 2, time: 20, index: 0) } catch { #expect(error.code == .badNonce) }
        let otherChain = try Self.tx(Self.anchor(3, by: f.a), 1, f.a, chain: "another-chain")
        do throws(TransactionError) { try state.apply(otherChain, height: 2, time: 20, index: 0) } catch { #expect(error.code == .badSignature) }
        let again = try Self.tx(Self.anchor(1, by: f.a), 1, f.a)
        do throws(TransactionError) { try state.apply(again, height: 2, time: 20, index: 0) } catch { #expect(error.code == .duplicateAnchor) }
        let forged = try Self.tx(Self.anchor(4, by: f.b), 1, f.a)
        do throws(TransactionError) { try state.apply(forged, height: 2, time: 20, index: 0) } catch { #expect(error.code == .notSubmitter) }
        let stranger = try Self.tx(Self.anchor(5, by: f.outsider), 0, f.outsider)
        do throws(TransactionError) { try state.apply(stranger, height: 2, time: 20, index: 0) } catch { #expect(error.code == .unknownParticipant) }
        #expect(state.anchors.count == 1)
        #expect(state.nonces[f.a.publicKey] == 1)
    }

    @Test func participantsStakeAndValidators() throws {
        let f = try Fixture()
        var state = f.genesis()
        #expect(state.validators.totalPower == 40)
        try state.apply(try Self.tx(.registerParticipant(RegisterParticipant(name: "Clinic C", nodeKey: f.outsider.publicKey)), 0, f.outsider), height: 1, time: 1, index: 0)
        #expect(state.validators.validators.count == 2, "registered without stake: no power yet")
        try state.apply(try Self.tx(.bond(amount: 5), 1, f.outsider), height: 1, time: 1, index: 1)
        #expect(state.validators.power(of: f.outsider.publicKey) == 5)
        try state.apply(try Self.tx(.unbond(amount: 10), 0, f.b), height: 1, time: 1, index: 2)
        #expect(state.validators.power(of: f.b.publicKey) == nil, "all stake withdrawn")
        let overdraw = try Self.tx(.unbond(amount: 1), 1, f.b)
        do throws(TransactionError) {
            try state.apply(overdraw, height: 1, time: 1, index: 3)
            Issue.record("unbonding more than the stake must fail")
        } catch {
            #expect(error.code == .insufficientStake)
        }
        let twice = try Self.tx(.registerParticipant(RegisterParticipant(name: "again", nodeKey: f.a.publicKey)), 0, f.a)
        do throws(TransactionError) {
            try state.apply(twice, height: 1, time: 1, index: 4)
            Issue.record("registering twice must fail")
        } catch {
            #expect(error.code == .alreadyRegistered)
        }
    }

    @Test func consentGrantAndRevokeAreProvableAgainstTheRoot() throws {
        let f = try Fixture()
        var state = f.genesis()
        let d = Self.grant(1, patient: 7)
        try state.apply(try Self.tx(.consentDirective(d), 0, f.a), height: 3, time: 3_000, index: 0)
        let key = LedgerState.Entry.consent(directiveId: d.directiveId)
        let granted = try #require(state.value(of: key))
        try state.proof(of: key).verify(root: state.root, key: key.key, value: granted)
        // The patient's list of directives, and the absence of another patient's.
        let patient = LedgerState.Entry.patient(pseudonym: d.patient)
        try state.proof(of: patient).verify(root: state.root, key: patient.key, value: try #require(state.value(of: patient)))
        let nobody = LedgerState.Entry.patient(pseudonym: Array(SHA256.hash(data: [42])))
        try state.proof(of: nobody).verify(root: state.root, key: nobody.key, value: nil)

        var revoke = d
        revoke.action = .revoke
        let byOther = try Self.tx(.consentDirective(revoke), 0, f.b)
        do throws(TransactionError) {
            try state.apply(byOther, height: 4, time: 4_000, index: 0)
            Issue.record("only the granting participant revokes")
        } catch {
            #expect(error.code == .notSubmitter)
        }
        let before = state.root
        try state.apply(try Self.tx(.consentDirective(revoke), 1, f.a), height: 4, time: 4_000, index: 0)
        #expect(state.consents[d.directiveId]?.revokedAt == 4_000, "revocation takes the block time")
        #expect(state.root != before)
        // The old proof no longer holds against the new root.
        #expect(throws: SparseMerkleTree.Error.self) { try state.proof(of: key).verify(root: state.root, key: key.key, value: granted) }
    }

    @Test func blocksRunThroughTheSeamDeterministically() throws {
        let f = try Fixture()
        var one = LedgerApplication(genesis: f.genesis())
        var two = LedgerApplication(genesis: f.genesis())
        let candidates = [
            try Self.tx(Self.anchor(1, by: f.a), 0, f.a),
            try Self.tx(Self.anchor(1, by: f.a), 1, f.a),  // a duplicate root: prepare leaves it out
            try Self.tx(.consentDirective(Self.grant(2, patient: 3)), 1, f.a),
            try Self.tx(.bond(amount: 4), 0, f.b),
        ]
        let chosen = one.prepareProposal(candidates, limit: 10)
        #expect(chosen.count == 3)
        #expect(one.checkTx(candidates[0]).code == nil)
        #expect(one.checkTx(candidates[1]).code == .badNonce, "checked against the committed state, where the signer's next nonce is 0")
        let block = Self.block(one, chosen, proposer: f.a.publicKey)
        #expect(one.processProposal(block) == nil)
        #expect(two.processProposal(block) == nil)
        let r1 = one.finalizeBlock(block)
        let r2 = two.finalizeBlock(block)
        #expect(r1 == r2)
        #expect(r1.results.allSatisfy { $0.code == nil })
        #expect(one.committedRoot != r1.stateRoot, "nothing changes before commit")
        #expect(one.commit() == r1.stateRoot && two.commit() == r2.stateRoot)
        #expect(one.height == 1 && r1.validators.power(of: f.b.publicKey) == 14)

        // The next block must build on the committed root; a tampered transactions root or a bad transaction is refused.
        var next = Self.block(one, [try Self.tx(Self.anchor(9, by: f.b), 1, f.b)], proposer: f.b.publicKey)
        #expect(one.processProposal(next) == nil)
        next.header.stateRoot = [UInt8](repeating: 0, count: 32)
        #expect(one.processProposal(next) != nil)
        var badTx = Self.block(one, [try Self.tx(Self.anchor(9, by: f.b), 7, f.b)], proposer: f.b.publicKey)
        #expect(one.processProposal(badTx) != nil)
        badTx.header.height = 5
        #expect(one.processProposal(badTx) != nil)
    }
}
