import Foundation
import Consensus
import Ledger
import Testing

@Suite("Proposer selection")
struct ProposerScheduleTests {
    func key(_ byte: UInt8) throws -> SigningKey { try SigningKey(seed: [UInt8](repeating: byte, count: 32)) }

    @Test func powersOneAndThreeGiveP2P1P2P2() throws {
        let (a, b) = (try key(1), try key(2))
        // p1 is the key that sorts first (CometBFT breaks ties by the smaller address).
        let (p1, p2) = a.publicKey < b.publicKey ? (a.publicKey, b.publicKey) : (b.publicKey, a.publicKey)
        var schedule = ProposerSchedule(ValidatorSet([Validator(key: p1, power: 1), Validator(key: p2, power: 3)]))
        let order = (0..<8).compactMap { _ in schedule.step() }
        #expect(order == [p2, p1, p2, p2, p2, p1, p2, p2])
        // Heights advance the schedule one step; rounds within a height take more.
        let start = ProposerSchedule(ValidatorSet([Validator(key: p1, power: 1), Validator(key: p2, power: 3)]))
        #expect(start.proposer(round: 0) == p2)
        #expect(start.proposer(round: 1) == p1)
        #expect(start.advanced(to: ValidatorSet([Validator(key: p1, power: 1), Validator(key: p2, power: 3)])).proposer(round: 0) == p1)
    }

    @Test func overManyStepsEachValidatorProposesInProportionToItsPower() throws {
        let keys = try (1...5).map { try key(UInt8($0)) }
        let powers: [UInt64] = [1, 2, 3, 7, 17]
        var schedule = ProposerSchedule(ValidatorSet(zip(keys, powers).map { Validator(key: $0.publicKey, power: $1) }))
        var counts: [PublicKey: UInt64] = [:]
        let total = powers.reduce(0, +)
        for _ in 0..<(total * 10) { if let p = schedule.step() { counts[p, default: 0] += 1 } }
        for (k, p) in zip(keys, powers) { #expect(counts[k.publicKey] == p * 10) }
    }

    @Test func aNewValidatorStartsBehind() throws {
        let keys = try (1...3).map { try key(UInt8($0)) }
        let two = ValidatorSet([Validator(key: keys[0].publicKey, power: 10), Validator(key: keys[1].publicKey, power: 10)])
        let three = ValidatorSet(two.validators + [Validator(key: keys[2].publicKey, power: 1_000)])
        let next = ProposerSchedule(two).advanced(to: three)
        let i = try #require(next.validators.firstIndex { $0.key == keys[2].publicKey })
        #expect(next.priorities[i] == -(1_020 + 1_020 / 8))
    }
}

@Suite("Consensus engine")
struct ConsensusEngineTests {
    let chainId = "engine-test"

    func keys(_ n: Int) throws -> [SigningKey] { try (1...n).map { try SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) } }

    func block(height: UInt64, proposer: PublicKey, salt: UInt8 = 0) -> Block {
        let header = BlockHeader(chainId: chainId, height: height, time: 1_000 + Int64(salt), previousBlockId: [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot([]), stateRoot: [UInt8](repeating: salt, count: 32),
                                 validatorsHash: [], nextValidatorsHash: [], proposer: proposer)
        return Block(header: header, transactions: [], lastCommit: nil)
    }

    @Test func fourHonestValidatorsDecideInRoundZeroAndTheCommitVerifies() throws {
        let ks = try keys(4)
        let set = ValidatorSet(ks.map { Validator(key: $0.publicKey, power: 10) })
        let schedule = ProposerSchedule(set)
        var engines = ks.map { ConsensusEngine(chainId: chainId, key: $0, height: 1, validators: set, schedule: schedule, lastSigned: nil, validate: { _ in true }) }
        var inbox: [(Int, ConsensusMessage)] = []
        var decisions: [Int: (Block, CommitCertificate)] = [:]
        func route(_ from: Int, _ outputs: [ConsensusOutput]) {
            for o in outputs {
                switch o {
                case .broadcast(let m): for to in engines.indices where to != from { inbox.append((to, m)) }
                case .buildProposal(let h, let r):
                    let b = block(height: h, proposer: ks[from].publicKey)
                    route(from, engines[from].handle(.proposalBlock(b, round: r)))
                case .decide(let b, let c): decisions[from] = (b, c)
                default: break
                }
            }
        }
        for i in engines.indices { route(i, engines[i].start()) }
        while !inbox.isEmpty {
            let (to, m) = inbox.removeFirst()
            route(to, engines[to].handle(.message(m)))
        }
        #expect(decisions.count == 4)
        let ids = Set(decisions.values.map { $0.0.header.id })
        #expect(ids.count == 1)
        for (_, (b, c)) in decisions {
            #expect(c.round == 0 && c.height == 1 && c.blockId == b.header.id)
            #expect(c.problem(chainId: chainId, validators: set) == nil)
            #expect(b.header.proposer == schedule.proposer(round: 0))
        }
        #expect(engines.allSatisfy { $0.lastSigned == LastSigned(height: 1, round: 0, step: .precommit) })
    }

    @Test func anInvalidProposalGetsNilPrevotesAndTheNextRoundDecides() throws {
        let ks = try keys(4)
        let set = ValidatorSet(ks.map { Validator(key: $0.publicKey, power: 10) })
        let schedule = ProposerSchedule(set)
        let bad = try #require(schedule.proposer(round: 0))
        // Blocks proposed by the round-0 proposer are invalid to everyone.
        var engines = ks.map { ConsensusEngine(chainId: chainId, key: $0, height: 1, validators: set, schedule: schedule, lastSigned: nil,
                                               validate: { $0.header.proposer != bad }) }
        var inbox: [(Int, ConsensusMessage)] = []
        var timers: [(Int, TimeoutKind, UInt64, UInt32)] = []
        var decided: [Int: Block] = [:]
        func route(_ from: Int, _ outputs: [ConsensusOutput]) {
            for o in outputs {
                switch o {
                case .broadcast(let m): for to in engines.indices where to != from { inbox.append((to, m)) }
                case .buildProposal(let h, let r): route(from, engines[from].handle(.proposalBlock(block(height: h, proposer: ks[from].publicKey), round: r)))
                case .scheduleTimeout(let k, let h, let r, _): timers.append((from, k, h, r))
                case .decide(let b, _): decided[from] = b
                default: break
                }
            }
        }
        for i in engines.indices { route(i, engines[i].start()) }
        var steps = 0
        while decided.count < 4 && steps < 10_000 {
            steps += 1
            if !inbox.isEmpty {
                let (to, m) = inbox.removeFirst()
                route(to, engines[to].handle(.message(m)))
            } else if !timers.isEmpty {
                let (n, k, h, r) = timers.removeFirst()
                route(n, engines[n].handle(.timeout(k, height: h, round: r)))
            } else { break }
        }
        #expect(decided.count == 4)
        #expect(Set(decided.values.map(\.header.id)).count == 1)
        #expect(decided.values.allSatisfy { $0.header.proposer != bad })
    }

    @Test func aValidatorNeverSignsBelowItsLastSignedRecord() throws {
        let ks = try keys(4)
        let set = ValidatorSet(ks.map { Validator(key: $0.publicKey, power: 10) })
        // Restarted after it precommitted in round 0: it must not vote again in round 0.
        var engine = ConsensusEngine(chainId: chainId, key: ks[0], height: 1, validators: set, schedule: ProposerSchedule(set),
                                     lastSigned: LastSigned(height: 1, round: 0, step: .precommit), validate: { _ in true })
        let out = engine.start() + engine.handle(.timeout(.propose, height: 1, round: 0))
        #expect(!out.contains { if case .broadcast(.vote) = $0 { true } else { false } })
        // In round 1 it votes again.
        let later = engine.handle(.timeout(.precommit, height: 1, round: 0)) + engine.handle(.timeout(.propose, height: 1, round: 1))
        #expect(later.contains { if case .broadcast(.vote(let v)) = $0 { v.round == 1 && v.isNil } else { false } })
    }

    @Test func conflictingVotesBecomeEvidenceThatTheApplicationSlashes() throws {
        let ks = try keys(4)
        let set = ValidatorSet(ks.map { Validator(key: $0.publicKey, power: 10) })
        var engine = ConsensusEngine(chainId: chainId, key: ks[0], height: 1, validators: set, schedule: ProposerSchedule(set), lastSigned: nil, validate: { _ in true })
        _ = engine.start()
        let a = try SignedVote(signing: .prevote, height: 1, round: 0, blockId: [UInt8](repeating: 1, count: 32), chainId: chainId, with: ks[3])
        let b = try SignedVote(signing: .prevote, height: 1, round: 0, blockId: nil, chainId: chainId, with: ks[3])
        _ = engine.handle(.message(.vote(a)))
        let out = engine.handle(.message(.vote(b)))
        let evidence = try #require(out.compactMap { if case .evidence(let e) = $0 { e } else { nil } }.first)
        #expect(evidence.problem(chainId: chainId) == nil)
        #expect(evidence.validator == ks[3].publicKey)
        // Committed as a transaction, it slashes 5 % and jails; the same offence twice is refused.
        var state = LedgerState(chainId: chainId, participants: ks.map { ($0.publicKey, Participant(name: "v", nodeKey: $0.publicKey, stake: 100)) })
        try state.apply(try Transaction(signing: .evidence(evidence), nonce: 0, chainId: chainId, with: ks[1]), height: 2, time: 0, index: 0)
        #expect(state.participants[ks[3].publicKey] == Participant(name: "v", nodeKey: ks[3].publicKey, stake: 95, jailed: true))
        #expect(state.validators.validators.count == 3)
        #expect(throws: TransactionError.self) {
            try state.apply(try Transaction(signing: .evidence(evidence), nonce: 0, chainId: chainId, with: ks[2]), height: 2, time: 0, index: 1)
        }
        // Two votes for the same block are not evidence; nor are votes signed on another chain.
        #expect(DuplicateVoteEvidence(a, a).problem(chainId: chainId) != nil)
        #expect(evidence.problem(chainId: "other-chain") != nil)
    }
}

@Suite("Deterministic simulation", .timeLimit(.minutes(20)))
struct SimulationTests {
    @Test func theSameSeedGivesTheSameRun() async {
        let (a, b) = await Self.onOwnThread { (Simulation.run(seed: 7), Simulation.run(seed: 7)) }
        #expect(a.description == b.description)
        #expect(a.heights > 0)
    }

    /// Runs `body` on a thread of its own, not on the test runner's cooperative pool, and at the lowest CPU
    /// priority: a simulation is minutes of CPU, and on a 2-core machine it would otherwise starve the suites that
    /// wait on sockets and processes past their time limits. It gets the CPU the other suites leave idle.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                #if os(Linux)
                // On Linux the nice value is per thread: setpriority(PRIO_PROCESS, 0) lowers this thread only.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
                #endif
                continuation.resume(returning: body())
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
    }

    /// 24 seeds (CARELEDGER_SIM_SEEDS for more), one after another on their own thread. CI runs 200 more seeds
    /// as a step of its own (`careledger sim --seeds 200 --start 25`), so they never compete with the suites
    /// that wait on sockets and processes.
    @Test func seedsRunClean() async {
        let count = ProcessInfo.processInfo.environment["CARELEDGER_SIM_SEEDS"].flatMap { UInt64($0) } ?? 24
        let reports = await Self.onOwnThread { (1...max(count, 1)).map { Simulation.run(seed: $0) } }
        let failed = reports.filter { !$0.ok }.map(\.description)
        let twins = reports.filter(\.twin).count
        let crashes = reports.reduce(0) { $0 + $1.crashes }
        let partitions = reports.reduce(0) { $0 + $1.partitions }
        let evidence = reports.reduce(0) { $0 + $1.evidenceCommitted }
        let heights = reports.reduce(UInt64(0)) { $0 + $1.heights }
        let contractEpochs = reports.reduce(0) { $0 + $1.contractEpochs }
        print("simulation: \(reports.count) seeds, \(reports.count - failed.count) clean; \(twins) with a byzantine twin, \(crashes) crashes, \(partitions) partitions, \(evidence) evidence committed, \(heights) heights, \(contractEpochs) contract epochs")
        #expect(failed.isEmpty, "\(failed.prefix(5))")
        // With 24 fixed seeds every kind of fault happens.
        if reports.count >= 24 { #expect(crashes > 0 && partitions > 0 && twins > 0) }
        // Every seed deploys its allocation contract, votes it in and executes epochs of it.
        #expect(reports.allSatisfy { $0.contractEpochs > 0 }, "\(reports.filter { $0.contractEpochs == 0 }.map(\.seed))")
    }
}
