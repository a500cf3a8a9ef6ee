public import Ledger
import Contracts
import Synchronization

/// One signature cache for every simulated validator: a verification's result does not depend on who checks it,
/// and sharing it makes thousands of seeds affordable. (Real validators each verify.)
final class SharedVerifier: Sendable {
    private let cache = Mutex(SignatureCache())
    /// Why proposals were found invalid, counted (for reading a failed seed).
    let rejections = Mutex([String: Int]())

    func reject(_ why: String) -> Bool {
        rejections.withLock { $0[why, default: 0] += 1 }
        return false
    }

    func verify(_ key: PublicKey, _ signature: [UInt8], _ message: [UInt8]) -> Bool {
        cache.withLock { $0.verify(key, signature, over: message) }
    }

    func problem(_ commit: CommitCertificate, chainId: String, validators: ValidatorSet) -> String? {
        cache.withLock { commit.problem(chainId: chainId, validators: validators, cache: &$0) }
    }
}

/// A deterministic simulation of a validator cluster (in the manner of TigerBeetle's VOPR and FoundationDB): the
/// consensus engine and the ledger application of every validator, a simulated network, clock and disk, all driven
/// by one seed. The same seed always gives the same run.
///
/// A seed draws 4–7 validators with random stakes and, sometimes, a byzantine twin (a second node running the
/// first validator's key, whose stake is kept under 1/3). The safety phase injects packet loss, delay, duplication,
/// reordering, partitions, crashes and restarts; then every fault heals and the liveness phase must commit new
/// blocks within a bounded simulated time. Checked throughout: one block per height, a valid certificate for every
/// block, no honest double sign, one application hash per height, and every equivocation an honest node saw
/// committed as evidence by the end.
public struct Simulation {
    public struct Report: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var validators: Int
        public var twin: Bool
        public var heights: UInt64
        public var crashes: Int
        public var partitions: Int
        public var messages: Int
        public var equivocationsSeen: Int
        public var evidenceCommitted: Int
        public var simulatedMillis: Int64
        /// Contract transactions committed (deploys, votes, claims, supply updates, withdrawals) and contract epochs
        /// executed, as the most advanced honest node has them.
        public var contractTransactions: Int = 0
        public var contractEpochs: Int = 0
        public var failures: [String]
        /// Each node's last state, for reading a failed seed: index, up, height, round, step, last signed.
        public var nodes: [String] = []

        public var ok: Bool { failures.isEmpty }

        public var description: String {
            "seed \(seed): \(validators) validators\(twin ? " + twin" : ""), \(heights) heights, \(crashes) crashes, \(partitions) partitions, "
                + "\(messages) messages, \(equivocationsSeen) equivocations seen, \(evidenceCommitted) evidence committed, "
                + "\(contractTransactions) contract transactions, \(contractEpochs) contract epochs, \(simulatedMillis) ms simulated" + (failures.isEmpty ? "" : " — FAILED: " + failures.joined(separator: "; "))
        }
    }

    // MARK: Set-up

    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func int64(_ range: ClosedRange<Int64>) -> Int64 { range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1)) }
        /// True with probability `permille`/1000.
        mutating func chance(_ permille: Int) -> Bool { Int(next() % 1000) < permille }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    enum Payload {
        case consensus(ConsensusMessage)
        case transaction(Transaction)
        case status(height: UInt64)
        case syncRequest(from: UInt64)
        case syncBlock(StoredBlockValue)
    }

    struct StoredBlockValue {
        var block: Block
        var commit: CommitCertificate
    }

    enum EventKind {
        case deliver(to: Int, from: Int, Payload)
        case timeout(node: Int, generation: Int, TimeoutKind, height: UInt64, round: UInt32)
        case crash(Int)
        case restart(Int)
        case partition([Int])
        case heal
        case submit(Int)
        case gossipStatus(Int)
        case regossip(Int)
        case build(node: Int, generation: Int, height: UInt64, round: UInt32)
    }

    struct Event {
        var time: Int64
        var seq: UInt64
        var kind: EventKind
    }

    /// A binary min-heap of events by (time, seq): the simulated clock's agenda.
    struct Agenda {
        private var heap: [Event] = []
        private var seq: UInt64 = 0
        var isEmpty: Bool { heap.isEmpty }

        mutating func add(_ time: Int64, _ kind: EventKind) {
            seq += 1
            heap.append(Event(time: time, seq: seq, kind: kind))
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard before(heap[i], heap[parent]) else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }

        mutating func pop() -> Event? {
            guard !heap.isEmpty else { return nil }
            heap.swapAt(0, heap.count - 1)
            let top = heap.removeLast()
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, before(heap[l], heap[m]) { m = l }
                if r < heap.count, before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
            return top
        }

        private func before(_ a: Event, _ b: Event) -> Bool { (a.time, a.seq) < (b.time, b.seq) }
    }

    /// One simulated node: what survives a crash (blocks and the last-signed record, its "disk") and what does not.
    struct Node {
        let index: Int
        let key: SigningKey
        let honest: Bool
        var up = true
        var generation = 0
        // Disk.
        var blocks: [StoredBlockValue] = []
        var lastSigned: LastSigned?
        /// Evidence found and not yet committed (CometBFT keeps an evidence pool on disk).
        var evidence: [DuplicateVoteEvidence] = []
        // Memory.
        var app: LedgerApplication
        var engine: ConsensusEngine
        var validatorsAt: [UInt64: ValidatorSet] = [:]
        var schedule: ProposerSchedule
        var mempool: [Transaction] = []
        var mempoolHashes: Set<[UInt8]> = []
        var mempoolState: LedgerState
        var lastTime: Int64 = 0
        /// The write-ahead log (on disk): every consensus message of the current height, sent or received. A
        /// restarted node replays it into its engine, which restores its locks and its view of the votes, and it
        /// gossips its own messages from it again (CometBFT's gossip keeps sending peers the votes they lack;
        /// without it a lost precommit could stall a round for ever).
        var wal: [ConsensusMessage] = []
        var walKeys: Set<[UInt8]> = []
    }

    let chainId = "careledger-sim"
    let verifier = SharedVerifier()
    var random: Random
    var agenda = Agenda()
    var now: Int64 = 0
    var nodes: [Node] = []
    let genesisState: LedgerState
    let genesisValidators: ValidatorSet
    var report: Report
    // Network conditions.
    var lossPermille = 0
    var duplicatePermille = 0
    var maxDelay: Int64 = 20
    var group: [Int]?  // a partition: node → side
    // Checks.
    var decidedIds: [UInt64: [UInt8]] = [:]
    var stateRoots: [UInt64: [UInt8]] = [:]
    var honestVotes: [String: [UInt8]] = [:]
    /// Each equivocation honest nodes saw, with when it was first seen (simulated milliseconds).
    var equivocations: [[UInt8]: Int64] = [:]
    /// Evidence seen this close to the end need not be committed yet (it takes a few heights to be included).
    static let evidenceGraceMillis: Int64 = 10_000
    let healAt: Int64
    let endAt: Int64
    var heightAtHeal: UInt64 = 0
    var contractMechanism: MechanismSpec.Kind = .proRata
    var contractDivisible = false
    var contractSupply = 0

    public static func run(seed: UInt64, safetyMillis: Int64 = 12_000, livenessMillis: Int64 = 40_000) -> Report {
        var sim = Simulation(seed: seed, safetyMillis: safetyMillis, livenessMillis: livenessMillis)
        sim.execute()
        return sim.report
    }

    init(seed: UInt64, safetyMillis: Int64, livenessMillis: Int64) {
        random = Random(state: seed)
        let count = random.int(4...7)
        let twin = random.chance(400)
        var keys: [SigningKey] = []
        var stakes: [UInt64] = []
        for i in 0..<count {
            var seedBytes = random.bytes(32)
            seedBytes[0] = UInt8(i)
            keys.append((try? SigningKey(seed: seedBytes)) ?? SigningKey())
            stakes.append(UInt64(random.int(1...100)))
        }
        if twin {
            // The twin's key must hold less than 1/3 of the power, or no safety is promised.
            let others = stakes.dropFirst().reduce(0, +)
            stakes[0] = max(1, min(stakes[0], (others - 1) / 2))
        }
        genesisState = LedgerState(chainId: chainId, participants: keys.indices.map { (keys[$0].publicKey, Participant(name: "validator-\($0)", nodeKey: keys[$0].publicKey, stake: stakes[$0])) })
        genesisValidators = genesisState.validators
        healAt = safetyMillis
        endAt = safetyMillis + livenessMillis
        report = Report(seed: seed, validators: count, twin: twin, heights: 0, crashes: 0, partitions: 0, messages: 0, equivocationsSeen: 0,
                        evidenceCommitted: 0, simulatedMillis: 0, failures: [])
        var all = keys.indices.map { ($0, keys[$0], true) }
        if twin { all.append((count, keys[0], false)) }
        for (index, key, honest) in all {
            nodes.append(makeNode(index: index, key: key, honest: honest && !(twin && index == 0)))
        }
        contractMechanism = [.proRata, .maxMin, .weightedMaxMin, .cea, .cel, .talmud, .proportional, .lottery][random.int(0...7)]
        contractDivisible = contractMechanism != .lottery && random.chance(500)
        contractSupply = random.int(0...30)
        lossPermille = random.int(0...300)
        duplicatePermille = random.int(0...100)
        maxDelay = random.int64(5...200)
    }

    func makeNode(index: Int, key: SigningKey, honest: Bool) -> Node {
        var app = LedgerApplication(genesis: genesisState)
        app.verifier = SignatureVerifier(verifier.verify)
        let schedule = ProposerSchedule(genesisValidators)
        let engine = ConsensusEngine(chainId: chainId, key: key, height: 1, validators: genesisValidators, schedule: schedule, lastSigned: nil,
                                     timeouts: Self.timeouts, verify: verifier.verify,
                                     validate: Self.validator(app: app, previous: nil, validatorsAt: [1: genesisValidators, 2: genesisValidators], chainId: chainId,
                                                              verifier: verifier))
        var node = Node(index: index, key: key, honest: honest, app: app, engine: engine, schedule: schedule, mempoolState: genesisState)
        node.validatorsAt = [1: genesisValidators, 2: genesisValidators]
        return node
    }

    static let timeouts = TimeoutParams(propose: 300, proposeDelta: 100, prevote: 200, prevoteDelta: 100, precommit: 200, precommitDelta: 100)

    /// The proposal check each validator runs: the block follows its chain and applies to its state.
    static func validator(app: LedgerApplication, previous: StoredBlockValue?, validatorsAt: [UInt64: ValidatorSet], chainId: String,
                          verifier: SharedVerifier) -> @Sendable (Block) -> Bool {
        let h = app.height + 1
        let vals = validatorsAt[h]
        let next = validatorsAt[h + 1]
        let previousVals = validatorsAt[h - 1]
        return { block in
            let header = block.header
            guard header.height == h, header.chainId == chainId else { return verifier.reject("height or chain") }
            guard let vals, let next, header.validatorsHash == vals.hash, header.nextValidatorsHash == next.hash else { return verifier.reject("validators hash") }
            if let previous {
                guard header.previousBlockId == previous.block.header.id else { return verifier.reject("previous block") }
                guard header.time > previous.block.header.time else { return verifier.reject("time") }
                guard let last = block.lastCommit, last.height == h - 1, last.blockId == previous.block.header.id,
                      let previousVals, verifier.problem(last, chainId: chainId, validators: previousVals) == nil else { return verifier.reject("last commit") }
            } else {
                guard header.previousBlockId == [UInt8](repeating: 0, count: 32), block.lastCommit == nil else { return verifier.reject("genesis link") }
            }
            if let problem = app.processProposal(block) { return verifier.reject("application: " + problem.prefix(60)) }
            return true
        }
    }

    // MARK: Running

    mutating func execute() {
        for i in nodes.indices {
            process(i, nodes[i].engine.start())
            agenda.add(random.int64(0...500), .gossipStatus(i))
            agenda.add(random.int64(0...300), .regossip(i))
        }
        // Load: each node submits transactions now and then.
        for i in nodes.indices { agenda.add(random.int64(0...1_000), .submit(i)) }
        // Faults in the safety phase.
        let faults = random.int(0...6)
        for _ in 0..<faults {
            let at = random.int64(0...(healAt - 1))
            if random.chance(500) {
                let victim = random.int(0...(nodes.count - 1))
                agenda.add(at, .crash(victim))
                agenda.add(min(healAt - 1, at + random.int64(100...4_000)), .restart(victim))
            } else {
                agenda.add(at, .partition(nodes.indices.map { _ in random.int(0...1) }))
                agenda.add(min(healAt - 1, at + random.int64(200...5_000)), .heal)
            }
        }
        agenda.add(healAt, .heal)
        var steps = 0
        while let event = agenda.pop(), event.time <= endAt, steps < 3_000_000 {
            steps += 1
            now = event.time
            if now >= healAt && heightAtHeal == 0 { startLiveness() }
            handle(event.kind)
        }
        report.simulatedMillis = now
        finish()
        report.nodes = verifier.rejections.withLock { $0.sorted { $0.key < $1.key }.map { "rejected \($0.value)× \($0.key)" } } + nodes.map { n in
            "node \(n.index)\(n.honest ? "" : " (byzantine)") \(n.up ? "up" : "down") height \(n.engine.height) round \(n.engine.round) step \(n.engine.step) "
                + "last signed \(n.lastSigned.map { "\($0.height)/\($0.round)/\($0.step)" } ?? "-") mempool \(n.mempool.count) evidence \(n.evidence.count)" + "\n    " + n.engine.summary
        }
    }

    mutating func startLiveness() {
        heightAtHeal = max(1, nodes.map { UInt64($0.blocks.count) }.max() ?? 0)
        lossPermille = 0
        duplicatePermille = 0
        maxDelay = min(maxDelay, 50)
        group = nil
        for i in nodes.indices where !nodes[i].up { restart(i) }
    }

    mutating func handle(_ kind: EventKind) {
        switch kind {
        case .deliver(let to, let from, let payload):
            guard nodes[to].up else { return }
            receive(to, from: from, payload)
        case .timeout(let node, let generation, let kind, let h, let r):
            guard nodes[node].up, nodes[node].generation == generation else { return }
            process(node, nodes[node].engine.handle(.timeout(kind, height: h, round: r)))
        case .crash(let i):
            guard nodes[i].up, now < healAt else { return }
            nodes[i].up = false
            nodes[i].generation += 1
            report.crashes += 1
        case .restart(let i):
            if !nodes[i].up { restart(i) }
        case .partition(let sides):
            guard now < healAt else { return }
            group = sides
            report.partitions += 1
        case .heal:
            group = nil
        case .submit(let i):
            if nodes[i].up { submitTransaction(i) }
            agenda.add(now + random.int64(1_000...4_000), .submit(i))
        case .gossipStatus(let i):
            if nodes[i].up {
                send(from: i, toAll: .status(height: UInt64(nodes[i].blocks.count)))
                for tx in nodes[i].mempool.prefix(5) { send(from: i, toAll: .transaction(tx)) }
            }
            agenda.add(now + 500, .gossipStatus(i))
        case .build(let i, let generation, let h, let r):
            guard nodes[i].up, nodes[i].generation == generation, let block = buildBlock(i, height: h) else { return }
            process(i, nodes[i].engine.handle(.proposalBlock(block, round: r)))
        case .regossip(let i):
            if nodes[i].up {
                // Its own messages of the current round (and proposals), which peers may have lost.
                let round = nodes[i].engine.round
                let own = nodes[i].wal.filter {
                    guard $0.sender == nodes[i].key.publicKey, $0.height == nodes[i].engine.height else { return false }
                    if case .proposal = $0 { return true }
                    return $0.round + 1 >= round
                }
                for m in own.suffix(8) { send(from: i, toAll: .consensus(m)) }
                // With its re-proposal of the round, the proof of lock it rests on.
                for case .proposal(let p) in own where p.round == round && p.polRound >= 0 {
                    for case .vote(let v) in nodes[i].wal where v.kind == .prevote && Int64(v.round) == p.polRound && v.blockId == p.block.header.id {
                        send(from: i, toAll: .consensus(.vote(v)))
                    }
                }
                if nodes[i].honest { for e in nodes[i].evidence { submitEvidence(i, e) } }
            }
            agenda.add(now + 300, .regossip(i))
        }
    }

    /// A restart: memory is gone; the chain is replayed from the node's blocks and the engine resumes with the
    /// durable last-signed record.
    mutating func restart(_ i: Int) {
        let disk = nodes[i].blocks
        let lastSigned = nodes[i].lastSigned
        let evidence = nodes[i].evidence
        let wal = nodes[i].wal
        let generation = nodes[i].generation + 1
        var fresh = makeNode(index: i, key: nodes[i].key, honest: nodes[i].honest)
        fresh.generation = generation
        fresh.lastSigned = lastSigned
        fresh.evidence = evidence
        nodes[i] = fresh
        for stored in disk { apply(i, stored, storeOnDisk: false, replay: true) }
        nodes[i].blocks = disk
        let h = UInt64(nodes[i].blocks.count) + 1
        nodes[i].engine = ConsensusEngine(chainId: chainId, key: nodes[i].key, height: h, validators: nodes[i].validatorsAt[h] ?? genesisValidators,
                                          schedule: nodes[i].schedule, lastSigned: lastSigned, timeouts: Self.timeouts, verify: verifier.verify,
                                          validate: validatorFor(i))
        process(i, nodes[i].engine.start())
        // The WAL of the height in progress is replayed: the engine gets back its locks and the votes it saw; the
        // double-sign guard keeps it from signing anything it signed before the crash.
        for m in wal where m.height == h {
            log(i, m)
            process(i, nodes[i].engine.handle(.message(m)))
        }
        // Evidence it had found but not yet seen committed is on its disk: submit it again.
        for e in nodes[i].evidence { submitEvidence(i, e) }
    }

    func validatorFor(_ i: Int) -> @Sendable (Block) -> Bool {
        Self.validator(app: nodes[i].app, previous: nodes[i].blocks.last, validatorsAt: nodes[i].validatorsAt, chainId: chainId, verifier: verifier)
    }

    // MARK: Network

    mutating func send(from: Int, to: Int, _ payload: Payload) {
        guard from != to else { return }
        if let group, group[from] != group[to] { return }
        if random.chance(lossPermille) { return }
        report.messages += 1
        agenda.add(now + random.int64(1...maxDelay), .deliver(to: to, from: from, payload))
        if random.chance(duplicatePermille) { agenda.add(now + random.int64(1...maxDelay * 2), .deliver(to: to, from: from, payload)) }
    }

    mutating func send(from: Int, toAll payload: Payload) {
        for to in nodes.indices { send(from: from, to: to, payload) }
    }

    mutating func receive(_ i: Int, from: Int, _ payload: Payload) {
        switch payload {
        case .consensus(let m):
            if m.height == nodes[i].engine.height { log(i, m) }
            process(i, nodes[i].engine.handle(.message(m)))
        case .transaction(let tx):
            admit(i, tx)
        case .status(let h):
            if h > UInt64(nodes[i].blocks.count) { send(from: i, to: from, .syncRequest(from: UInt64(nodes[i].blocks.count) + 1)) }
        case .syncRequest(let start):
            let have = UInt64(nodes[i].blocks.count)
            guard start >= 1, start <= have else { return }
            for h in start...min(have, start + 20) { send(from: i, to: from, .syncBlock(nodes[i].blocks[Int(h - 1)])) }
        case .syncBlock(let stored):
            let h = stored.block.header.height
            guard h == UInt64(nodes[i].blocks.count) + 1, let vals = nodes[i].validatorsAt[h],
                  stored.commit.height == h, stored.commit.blockId == stored.block.header.id,
                  verifier.problem(stored.commit, chainId: chainId, validators: vals) == nil, validatorFor(i)(stored.block) else { return }
            commit(i, stored)
        }
    }

    // MARK: Transactions

    mutating func submitTransaction(_ i: Int) {
        let key = nodes[i].key
        let nonce = nodes[i].mempoolState.nonces[key.publicKey] ?? 0
        if random.chance(500), let contract = contractTransaction(i) {
            guard let tx = try? Transaction(signing: .contract(contract), nonce: nonce, chainId: chainId, with: key) else { return }
            if admit(i, tx) { send(from: i, toAll: .transaction(tx)) }
            return
        }
        let body: TransactionBody = .anchorBatch(AnchorBatch(root: random.bytes(32), leafCount: UInt64(random.int(1...1_000)), firstTxid: 1, lastTxid: 1,
                                                             canonicalForm: "careledger-canonical/1", submitter: key.publicKey))
        guard let tx = try? Transaction(signing: body, nonce: nonce, chainId: chainId, with: key) else { return }
        if admit(i, tx) { send(from: i, toAll: .transaction(tx)) }
    }

    /// The seed's allocation contract: a mechanism drawn from those whose claims carry only units and weights,
    /// epochs of three heights, owned by validator 0, open to every validator.
    var contractDefinition: ContractDefinition {
        ContractDefinition(id: "sim-pool", pool: Pool(resource: "unit", units: Rational(contractSupply), divisible: contractDivisible, owners: ["validator-0"]),
                           epochs: EpochSchedule(start: 1, length: 3), mechanism: MechanismSpec(type: contractMechanism))
    }

    /// What node `i` would do next in the contract, as its mempool state has it: propose it, vote for it, claim,
    /// change the supply (validator 0), or withdraw; nil when there is nothing to do (it voted already).
    mutating func contractTransaction(_ i: Int) -> ContractTransaction? {
        let state = nodes[i].mempoolState, key = nodes[i].key.publicKey
        let d = contractDefinition
        guard let record = state.contract(d.id) else {
            guard let proposal = state.proposal(d.id) else { return .deploy(d) }
            guard !proposal.approvals.contains(key), !proposal.rejections.contains(key) else { return nil }
            return .vote(contract: d.id, version: proposal.definition.version, approve: random.chance(900))
        }
        let name = state.participants[key]?.name ?? ""
        switch random.int(0...9) {
        case 0 where name == "validator-0":
            return .supply(contract: d.id, units: Rational(random.int(0...40)))
        case 1:
            return state.claims(of: d.id).contains { $0.claimant == name } ? .withdraw(contract: d.id, side: nil) : nil
        default:
            let units = record.definition.pool.divisible ? ((try? Rational(Int128(random.int(0...200)), 7)) ?? .one) : Rational(random.int(0...20))
            return .claim(contract: d.id, Claim(claimant: name, units: units, weight: Rational(random.int(1...5))))
        }
    }

    mutating func submitEvidence(_ i: Int, _ e: DuplicateVoteEvidence) {
        guard nodes[i].app.state.value(of: .offence(e.offence)) == nil,
              !nodes[i].mempool.contains(where: { if case .evidence(let x) = $0.body { x.offence == e.offence } else { false } }) else { return }
        let nonce = nodes[i].mempoolState.nonces[nodes[i].key.publicKey] ?? 0
        if let tx = try? Transaction(signing: .evidence(e), nonce: nonce, chainId: chainId, with: nodes[i].key), admit(i, tx) {
            send(from: i, toAll: .transaction(tx))
        }
    }

    @discardableResult
    mutating func admit(_ i: Int, _ tx: Transaction) -> Bool {
        guard nodes[i].mempool.count < 1_000, tx.nonce >= (nodes[i].mempoolState.nonces[tx.signer] ?? 0) else { return false }
        let hash = tx.hash
        guard !nodes[i].mempoolHashes.contains(hash) else { return false }
        var scratch = nodes[i].mempoolState
        do throws(TransactionError) {
            try scratch.apply(tx, height: nodes[i].app.height + 1, time: 0, index: 0, verifier: nodes[i].app.verifier)
        } catch {
            return false
        }
        nodes[i].mempoolState = scratch
        nodes[i].mempool.append(tx)
        nodes[i].mempoolHashes.insert(hash)
        return true
    }

    // MARK: Engine outputs

    mutating func process(_ i: Int, _ outputs: [ConsensusOutput]) {
        var queue = outputs[...]
        while let output = queue.popFirst() {
            guard nodes[i].up else { return }
            switch output {
            case .persistLastSigned(let s):
                nodes[i].lastSigned = s  // durable at once: the simulated disk
            case .broadcast(let m):
                // Only its own votes: a proposal's proof-of-lock votes it relays are other validators'.
                if case .vote(let v) = m, nodes[i].honest, v.validator == nodes[i].key.publicKey { checkHonest(v) }
                log(i, m)
                send(from: i, toAll: .consensus(m))
            case .scheduleTimeout(let kind, let h, let r, let millis):
                agenda.add(now + millis, .timeout(node: i, generation: nodes[i].generation, kind, height: h, round: r))
            case .buildProposal(let h, let r):
                // Round 0 waits for transactions, as CometBFT's timeout_commit (1 s) does; later rounds do not.
                agenda.add(now + (r == 0 ? 1_000 : 0), .build(node: i, generation: nodes[i].generation, height: h, round: r))
            case .decide(let block, let certificate):
                commit(i, StoredBlockValue(block: block, commit: certificate))
            case .evidence(let e):
                guard nodes[i].honest else { break }
                if equivocations[e.offence] == nil {
                    equivocations[e.offence] = now
                    report.equivocationsSeen += 1
                }
                nodes[i].evidence.append(e)
                submitEvidence(i, e)
            }
        }
    }

    /// Appends a message of the current height to the node's WAL (once; at most 20,000 a height).
    mutating func log(_ i: Int, _ m: ConsensusMessage) {
        guard nodes[i].wal.count < 20_000 else { return }
        let key: [UInt8]
        switch m {
        case .vote(let v): key = [1, v.kind.rawValue] + v.validator.bytes + v.blockId + withUnsafeBytes(of: v.round.bigEndian, Array.init)
        case .proposal(let p): key = [2] + p.signature
        }
        if nodes[i].walKeys.insert(key).inserted { nodes[i].wal.append(m) }
    }

    mutating func checkHonest(_ v: SignedVote) {
        let slot = "\(v.validator) \(v.height) \(v.round) \(v.kind.rawValue)"
        if let earlier = honestVotes[slot], earlier != v.blockId {
            report.failures.append("honest validator \(v.validator.description.prefix(8)) double-signed at height \(v.height) round \(v.round)")
        }
        honestVotes[slot] = v.blockId
    }

    mutating func buildBlock(_ i: Int, height h: UInt64) -> Block? {
        let node = nodes[i]
        guard h == node.app.height + 1, let vals = node.validatorsAt[h], let next = node.validatorsAt[h + 1] else { return nil }
        let txs = node.app.prepareProposal(node.mempool, limit: 200)
        let previous = node.blocks.last
        let time = max(now, (previous?.block.header.time ?? 0) + 1)
        let header = BlockHeader(chainId: chainId, height: h, time: time, previousBlockId: previous?.block.header.id ?? [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot(txs), stateRoot: node.app.committedRoot, validatorsHash: vals.hash,
                                 nextValidatorsHash: next.hash, proposer: node.key.publicKey)
        return Block(header: header, transactions: txs, lastCommit: previous?.commit)
    }

    /// Commits a decided (or synced) block on node `i` and moves its engine to the next height.
    mutating func commit(_ i: Int, _ stored: StoredBlockValue) {
        apply(i, stored, storeOnDisk: true, replay: false)
        let h = UInt64(nodes[i].blocks.count) + 1
        guard let vals = nodes[i].validatorsAt[h] else { return }
        nodes[i].wal = []
        nodes[i].walKeys = []
        process(i, nodes[i].engine.advance(to: h, validators: vals, schedule: nodes[i].schedule, validate: validatorFor(i)))
    }

    mutating func apply(_ i: Int, _ stored: StoredBlockValue, storeOnDisk: Bool, replay: Bool) {
        let h = stored.block.header.height
        guard h == nodes[i].app.height + 1 else { return }
        if let vals = nodes[i].validatorsAt[h], verifier.problem(stored.commit, chainId: chainId, validators: vals) != nil {
            report.failures.append("node \(i) got block \(h) without a valid certificate")
            return
        }
        let finalized = nodes[i].app.finalizeBlock(stored.block)
        nodes[i].app.commit()
        if storeOnDisk { nodes[i].blocks.append(stored) }
        if !replay {
            let id = stored.block.header.id
            if let known = decidedIds[h], known != id { report.failures.append("two blocks committed at height \(h)") }
            decidedIds[h] = id
            if let root = stateRoots[h], root != finalized.stateRoot { report.failures.append("two application hashes at height \(h)") }
            stateRoots[h] = finalized.stateRoot
            report.heights = max(report.heights, h)
        }
        nodes[i].validatorsAt[h + 2] = finalized.validators
        if let next = nodes[i].validatorsAt[h + 1] { nodes[i].schedule = nodes[i].schedule.advanced(to: next) }
        nodes[i].lastTime = stored.block.header.time
        let committedState = nodes[i].app.state
        nodes[i].evidence.removeAll { committedState.value(of: .offence($0.offence)) != nil }
        // The mempool keeps what still applies.
        let included = Set(stored.block.transactions.map(\.hash))
        let remaining = nodes[i].mempool.filter { !included.contains($0.hash) }
        nodes[i].mempool = []
        nodes[i].mempoolHashes = []
        nodes[i].mempoolState = nodes[i].app.state
        for tx in remaining { admit(i, tx) }
    }

    // MARK: Checks

    mutating func finish() {
        let honest = nodes.filter(\.honest)
        let top = honest.map { UInt64($0.blocks.count) }.min() ?? 0
        if top < heightAtHeal + 2 {
            report.failures.append("liveness: after healing at height \(heightAtHeal) an honest node reached only height \(top) in \(endAt - healAt) ms")
        }
        if let reference = honest.max(by: { $0.blocks.count < $1.blocks.count }) { checkContracts(reference) }
        // Every equivocation an honest node saw is committed evidence (the offence entry is in the state), unless it
        // was first seen in the last seconds of the run.
        if let reference = honest.max(by: { $0.blocks.count < $1.blocks.count }) {
            for (offence, seenAt) in equivocations.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                if reference.app.state.value(of: .offence(offence)) != nil {
                    report.evidenceCommitted += 1
                } else if seenAt <= endAt - Self.evidenceGraceMillis {
                    report.failures.append("an equivocation seen by honest nodes at \(seenAt) ms was never committed as evidence (the run ended at \(endAt) ms)")
                }
            }
        }
    }

    /// The allocation invariants on every epoch the reference node executed (the executor asserts them too; this
    /// checks what reached the state): allocated + free = supply, nothing below zero, whole units when the pool is
    /// indivisible, and no failure other than running out of gas. Identical results on every validator follow from
    /// the identical state roots checked at every height.
    mutating func checkContracts(_ reference: Node) {
        report.contractTransactions = reference.blocks.reduce(0) { n, b in
            n + b.block.transactions.filter { if case .contract = $0.body { true } else { false } }.count
        }
        let d = contractDefinition
        guard let record = reference.app.state.contract(d.id) else { return }
        for epoch in 0..<record.nextEpoch {
            guard let r = reference.app.state.allocation(d.id, epoch: epoch) else { continue }
            report.contractEpochs += 1
            let total = try? Rational.sum(r.allocations.map(\.units)).adding(r.free)
            if total != r.supply || r.free.isNegative || r.allocations.contains(where: { $0.units.isNegative || (!d.pool.divisible && !$0.units.isInteger) }) {
                report.failures.append("contract epoch \(epoch) breaks an allocation invariant: \(r.allocations.map { "\($0.claimant)=\($0.units)" }) free \(r.free) of \(r.supply)")
            }
            if let failure = r.failure, failure.code != .outOfGas { report.failures.append("contract epoch \(epoch) failed: \(failure)") }
        }
    }
}
