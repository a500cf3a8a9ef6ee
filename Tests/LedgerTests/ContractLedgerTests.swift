import Contracts
import Crypto
import Ledger
import Testing

/// Allocation contracts on the ledger: deploys as proposals voted in by more than 2/3 of the stake, claims signed
/// by their claimant, supply from the pool's owners, epochs executed at their boundary inside block finalization,
/// results proven against the state root.
@Suite("Allocation contracts on the ledger")
struct ContractLedgerTests {
    static let chainId = "careledger-contracts"

    /// Four hospitals with equal stake: any three hold more than 2/3.
    struct Network {
        let keys: [SigningKey]
        var app: LedgerApplication
        var nonces: [UInt64]
        static let names = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"]

        init() throws {
            keys = try (1...4).map { try SigningKey(seed: [UInt8](repeating: UInt8(40 + $0), count: 32)) }
            app = LedgerApplication(genesis: LedgerState(chainId: ContractLedgerTests.chainId, participants: keys.enumerated().map { i, k in
                (k.publicKey, Participant(name: Network.names[i], nodeKey: k.publicKey, stake: 10))
            }))
            nonces = [0, 0, 0, 0]
        }

        /// Signs `body` as participant `i`.
        mutating func tx(_ i: Int, _ body: ContractTransaction) throws -> Transaction {
            defer { nonces[i] += 1 }
            return try Transaction(signing: .contract(body), nonce: nonces[i], chainId: ContractLedgerTests.chainId, with: keys[i])
        }

        /// Finalizes and commits a block of `txs`; returns each transaction's result code.
        @discardableResult
        mutating func block(_ txs: [Transaction]) -> [TransactionError.Code?] {
            let zero = [UInt8](repeating: 0, count: 32)
            let header = BlockHeader(chainId: app.chainId, height: app.height + 1, time: 1_000 * Int64(app.height + 1), previousBlockId: zero,
                                     transactionsRoot: Block.transactionsRoot(txs), stateRoot: app.committedRoot,
                                     validatorsHash: app.state.validators.hash, nextValidatorsHash: app.state.validators.hash, proposer: keys[0].publicKey)
            let finalized = app.finalizeBlock(Block(header: header, transactions: txs, lastCommit: nil))
            app.commit()
            // Refused transactions consumed no nonce.
            for (tx, r) in zip(txs, finalized.results) where r.code != nil {
                if let i = keys.firstIndex(where: { $0.publicKey == tx.signer }) { nonces[i] -= 1 }
            }
            return finalized.results.map(\.code)
        }
    }

    static func ventilators(version: UInt32 = 1, units: Int = 10, start: UInt64 = 1, length: UInt64 = 5) -> ContractDefinition {
        ContractDefinition(id: "ventilators", version: version, description: "ventilators pro rata to demand",
                           pool: Pool(resource: "ventilator", units: Rational(units), divisible: false, owners: ["hospital-a"]),
                           epochs: EpochSchedule(start: start, length: length), claimants: Network.names, mechanism: MechanismSpec(type: .proRata))
    }

    @Test func aDeployTakesEffectOnlyWhenMoreThanTwoThirdsOfTheStakeApprove() throws {
        var n = try Network()
        #expect(n.block([try n.tx(0, .deploy(Self.ventilators()))]) == [nil])
        #expect(n.app.state.contract("ventilators") == nil, "one of four equal stakes is not > 2/3")
        #expect(n.app.state.proposal("ventilators")?.approvals == [n.keys[0].publicKey])
        // A claim before the contract is in force is refused.
        #expect(n.block([try n.tx(1, .claim(contract: "ventilators", Claim(claimant: "hospital-b", units: Rational(3))))]) == [.unknownContract])
        #expect(n.block([try n.tx(1, .vote(contract: "ventilators", version: 1, approve: true))]) == [nil])
        #expect(n.app.state.contract("ventilators") == nil, "two of four (20 of 40) is not > 2/3")
        #expect(n.block([try n.tx(1, .vote(contract: "ventilators", version: 1, approve: true))]) == [.alreadyVoted])
        #expect(n.block([try n.tx(2, .vote(contract: "ventilators", version: 1, approve: true))]) == [nil])
        let record = try #require(n.app.state.contract("ventilators"))
        #expect(record.definition.version == 1 && record.supply == Rational(10))
        #expect(n.app.state.proposal("ventilators") == nil)
    }

    @Test func rejectionsHoldingAThirdDropTheProposal() throws {
        var n = try Network()
        n.block([try n.tx(0, .deploy(Self.ventilators()))])
        #expect(n.block([try n.tx(1, .vote(contract: "ventilators", version: 1, approve: false))]) == [nil])
        #expect(n.app.state.proposal("ventilators") != nil, "10 of 40 rejecting can still be outvoted")
        n.block([try n.tx(2, .vote(contract: "ventilators", version: 1, approve: false))])
        #expect(n.app.state.proposal("ventilators") == nil, "20 of 40 rejecting: > 2/3 can no longer approve")
        #expect(n.app.state.contract("ventilators") == nil)
    }

    @Test func deploysThatBreakTheRulesAreRefusedWithTheirReason() throws {
        var n = try Network()
        var bad = Self.ventilators()
        bad.pool.owners = ["nobody"]
        #expect(n.block([try n.tx(0, .deploy(bad))]) == [.invalidContract])
        bad = Self.ventilators(version: 2)
        #expect(n.block([try n.tx(0, .deploy(bad))]) == [.invalidContract], "version 2 of a contract that has no version 1")
        bad = Self.ventilators()
        bad.id = "Ventilators!"
        #expect(n.block([try n.tx(0, .deploy(bad))]) == [.invalidContract])
        #expect(n.block([try n.tx(0, .deploy(Self.ventilators()))]) == [nil])
        #expect(n.block([try n.tx(1, .deploy(Self.ventilators()))]) == [.proposalPending])
    }

    /// Deploys `definition` and votes it in with three of the four stakes.
    static func inForce(_ definition: ContractDefinition, _ n: inout Network) throws {
        let id = definition.id, v = definition.version
        let results = n.block([try n.tx(0, .deploy(definition)), try n.tx(1, .vote(contract: id, version: v, approve: true)),
                               try n.tx(2, .vote(contract: id, version: v, approve: true))])
        #expect(results == [nil, nil, nil])
        #expect(n.app.state.contract(id)?.definition.version == v)
    }

    @Test func claimsAreSignedByTheirClaimantAndSupplyComesFromTheOwners() throws {
        var n = try Network()
        try Self.inForce(Self.ventilators(start: 100), &n)
        let id = "ventilators"
        #expect(n.block([try n.tx(1, .claim(contract: id, Claim(claimant: "hospital-c", units: Rational(3))))]) == [.invalidClaim], "b signs a claim for c")
        #expect(n.block([try n.tx(1, .claim(contract: id, Claim(claimant: "hospital-b", units: try Rational(7, 2))))]) == [.invalidClaim], "3.5 ventilators")
        #expect(n.block([try n.tx(1, .claim(contract: id, Claim(claimant: "hospital-b", units: Rational(3), side: .buy)))]) == [.invalidClaim], "pro-rata has no sides")
        #expect(n.block([try n.tx(1, .claim(contract: id, Claim(claimant: "hospital-b", units: Rational(3))))]) == [nil])
        #expect(n.app.state.claims(of: id).map(\.claimant) == ["hospital-b"])
        #expect(n.block([try n.tx(1, .supply(contract: id, units: Rational(12)))]) == [.notOwner])
        #expect(n.block([try n.tx(0, .supply(contract: id, units: Rational(12)))]) == [nil])
        #expect(n.app.state.contract(id)?.supply == Rational(12))
        #expect(n.block([try n.tx(2, .withdraw(contract: id, side: nil))]) == [.invalidClaim], "c has no claim to withdraw")
        #expect(n.block([try n.tx(1, .withdraw(contract: id, side: nil))]) == [nil])
        #expect(n.app.state.claims(of: id).isEmpty)
    }

    @Test func anEpochRunsAtItsLastHeightAndItsResultIsProvenAgainstTheStateRoot() throws {
        var n = try Network()
        // Epochs of 5 blocks from height 1: epoch 0 ends at height 5, epoch 1 at 10.
        try Self.inForce(Self.ventilators(), &n)  // height 1
        n.block([try n.tx(1, .claim(contract: "ventilators", Claim(claimant: "hospital-b", units: Rational(3)))),
                 try n.tx(2, .claim(contract: "ventilators", Claim(claimant: "hospital-c", units: Rational(5)))),
                 try n.tx(3, .claim(contract: "ventilators", Claim(claimant: "hospital-d", units: Rational(7))))])  // height 2
        n.block([])
        n.block([])
        #expect(n.app.state.allocation("ventilators", epoch: 0) == nil, "height 4: epoch 0 has not ended")
        n.block([])  // height 5
        let result = try #require(n.app.state.allocation("ventilators", epoch: 0))
        // allocation-examples.md: 10 over 3, 5, 7 → 2, 3, 5.
        #expect(result.allocations.map(\.claimant) == ["hospital-b", "hospital-c", "hospital-d"])
        #expect(result.allocations.map(\.units) == [Rational(2), Rational(3), Rational(5)])
        #expect(result.failure == nil && result.free == .zero)
        #expect(n.app.state.contract("ventilators")?.nextEpoch == 1)

        // The result is proven by its entry against the state root a header commits to.
        let proof = try AllocationProof.make(state: n.app.state, contract: "ventilators", epoch: 0, claimant: "hospital-d", header: Self.header(n), commit: Self.commit(n))
        let proven = try proof.verify(chainId: Self.chainId, validators: n.app.state.validators)
        #expect(proven == result)
        var forged = proof
        forged.epoch = 1
        #expect(throws: Receipt.Failure.self) { try forged.verify(chainId: Self.chainId, validators: n.app.state.validators) }
        var tampered = proof
        var result2 = result
        result2.allocations[2].units = Rational(6)
        tampered.entry.value = result2.encoded
        #expect(throws: Receipt.Failure.self) { try tampered.verify(chainId: Self.chainId, validators: n.app.state.validators) }
    }

    @Test func aNewVersionNeverRewritesAnExecutedEpoch() throws {
        var n = try Network()
        try Self.inForce(Self.ventilators(length: 2), &n)  // height 1; epoch 0 = heights 1–2
        n.block([try n.tx(1, .claim(contract: "ventilators", Claim(claimant: "hospital-b", units: Rational(4))))])  // height 2: epoch 0 runs
        let first = try #require(n.app.state.allocation("ventilators", epoch: 0))
        #expect(first.version == 1 && first.allocations.map(\.units) == [Rational(4)])
        // Version 2 moves the schedule back so that its epoch 0 would end at a later height: it must not run again.
        var v2 = Self.ventilators(version: 2, units: 10, start: 3, length: 1)
        v2.epochs = EpochSchedule(start: 1, length: 4)
        try Self.inForce(v2, &n)  // height 3
        n.block([])  // height 4: v2's epoch 0 ends here, but epoch 0 was executed
        #expect(n.app.state.allocation("ventilators", epoch: 0) == first)
        for _ in 0..<4 { n.block([]) }  // height 8: v2's epoch 1 runs
        #expect(n.app.state.allocation("ventilators", epoch: 1)?.version == 2)
    }

    @Test func anEpochThatRunsOutOfGasIsAFailureRecordedInTheStateNotACrash() throws {
        var n = try Network()
        var starved = Self.ventilators()
        starved.gas = 5
        try Self.inForce(starved, &n)  // height 1
        n.block([try n.tx(1, .claim(contract: "ventilators", Claim(claimant: "hospital-b", units: Rational(3)))),
                 try n.tx(2, .claim(contract: "ventilators", Claim(claimant: "hospital-c", units: Rational(5)))),
                 try n.tx(3, .claim(contract: "ventilators", Claim(claimant: "hospital-d", units: Rational(7))))])
        for _ in 0..<3 { n.block([]) }  // height 5: epoch 0 runs
        let result = try #require(n.app.state.allocation("ventilators", epoch: 0))
        #expect(result.failure?.code == .outOfGas)
        #expect(result.gasUsed == 5 && result.free == Rational(10))
        #expect(result.allocations.allSatisfy { $0.units == .zero } && result.allocations.count == 3)
        #expect(n.app.state.contract("ventilators")?.nextEpoch == 1, "the failed epoch counts as executed")
        n.block([])  // the chain goes on
        #expect(n.app.height == 6)
    }

    @Test func identicalBlocksGiveIdenticalResultsAndRootsOnEveryValidator() throws {
        var a = try Network(), b = try Network()
        for net in [0, 1] {
            var n = net == 0 ? a : b
            try Self.inForce(Self.ventilators(), &n)
            n.block([try n.tx(1, .claim(contract: "ventilators", Claim(claimant: "hospital-b", units: Rational(9)))),
                     try n.tx(3, .claim(contract: "ventilators", Claim(claimant: "hospital-d", units: Rational(4))))])
            for _ in 0..<3 { n.block([]) }
            if net == 0 { a = n } else { b = n }
        }
        #expect(a.app.committedRoot == b.app.committedRoot)
        #expect(a.app.state.allocation("ventilators", epoch: 0) == b.app.state.allocation("ventilators", epoch: 0))
        #expect(a.app.state.allocation("ventilators", epoch: 0) != nil)
    }

    static func header(_ n: Network) -> BlockHeader {
        let zero = [UInt8](repeating: 0, count: 32)
        return BlockHeader(chainId: chainId, height: n.app.height + 1, time: 99_000, previousBlockId: zero, transactionsRoot: Block.transactionsRoot([]),
                           stateRoot: n.app.committedRoot, validatorsHash: n.app.state.validators.hash, nextValidatorsHash: n.app.state.validators.hash,
                           proposer: n.keys[0].publicKey)
    }

    /// Precommits of three of the four validators for `header(n)`.
    static func commit(_ n: Network) throws -> CommitCertificate {
        let h = header(n)
        let message = voteSignBytes(chainId: chainId, kind: .precommit, height: h.height, round: 0, blockId: h.id)
        return CommitCertificate(height: h.height, round: 0, blockId: h.id, signatures: try n.keys.prefix(3).map {
            CommitSignature(validator: $0.publicKey, signature: try $0.sign(message))
        })
    }
}
