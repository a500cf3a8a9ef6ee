public import Consensus
public import Foundation
public import Ledger
public import P2P
import Synchronization

/// One validator of a network: the pure ``ConsensusEngine`` driven by real time, the P2P sessions to the other
/// validators, the consensus WAL and the double-sign guard on disk, mempool gossip and block sync
/// (docs/consensus.md, "A validator on the network").
///
/// Every input — a peer's message, a timeout, a tick — goes through one event stream and is handled to the end
/// before the next, so the engine's outputs are carried out in order: the signer state is fsync'ed before the
/// vote it covers is written to the WAL (also fsync'ed) and sent.
public actor ConsensusNode {
    public struct Settings: Sendable {
        /// How long a height waits after the previous commit when transactions are waiting (CometBFT's
        /// timeout_commit), and after a block with transactions (so the next header carries their state root).
        public var blockIntervalMillis = 100
        /// How long a height waits when nothing is waiting: empty blocks keep block time near the wall clock.
        public var emptyBlockMillis = 5_000
        public var timeouts = TimeoutParams(propose: 1_000, proposeDelta: 500, prevote: 500, prevoteDelta: 250, precommit: 500, precommitDelta: 250)
        /// How often the committed height is announced, and how long without progress before this validator sends
        /// its messages of the current height again.
        public var statusMillis = 1_000

        public init() {}
    }

    private enum Event: Sendable {
        case peer(PublicKey, [UInt8])
        case connected(PublicKey)
        case timeout(TimeoutKind, height: UInt64, round: UInt32)
        case tick
    }

    public let chain: Chain
    private let key: SigningKey
    private let chainId: String
    private let settings: Settings
    private let wal: ConsensusWAL
    private let signer: SignerState
    private let verifier: SignatureVerifier
    private var engine: ConsensusEngine
    private var p2p: P2PNode?
    private let events: AsyncStream<Event>
    private let input: AsyncStream<Event>.Continuation
    private let gossiped: AsyncStream<[UInt8]>
    private let gossip: AsyncStream<[UInt8]>.Continuation
    private var admitter: Task<Void, Never>?
    private var loop: Task<Void, Never>?
    private var ticker: Task<Void, Never>?
    private let log: @Sendable (String) -> Void
    private var maxFrame = 4 << 20

    /// Whether the engine runs the height after the tip; false while the height waits for its start (after a
    /// commit), so that a height starts at once everywhere when one validator's proposal or vote arrives.
    private var started = false
    /// Whether the engine still sits on the decided height and must advance when the next one starts.
    private var needsAdvance = false
    private var committedAt = ContinuousClock.now
    /// Where the height in progress spent its time (for the block log line).
    private var heightStartedAt = ContinuousClock.now
    private var heightWork: (build: Duration, check: Duration, commit: Duration) = (.zero, .zero, .zero)
    private var carryRoot = false
    private var peerHeights: [PublicKey: UInt64] = [:]
    private var requestedAt: ContinuousClock.Instant?
    private var lastStatus = ContinuousClock.now
    private var progress: (height: UInt64, round: UInt32, step: Step) = (0, 0, .propose)
    private var progressAt = ContinuousClock.now
    private var lastResend = ContinuousClock.now
    /// Own messages of the height in progress, sent again to a peer that connects and when progress stalls.
    private var own: [ConsensusMessage] = []
    private var halted: String?

    /// Opens the WAL and the signer state in `dataDirectory`, starts the P2P listener and dialers, replays the
    /// height in progress from the WAL, and starts consensus.
    public static func start(chain: Chain, key: SigningKey, p2p config: P2PConfig, peers: [NodeConfig.Peer], dataDirectory: URL,
                             settings: Settings = Settings(), log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ConsensusNode {
        let wal = try ConsensusWAL(path: dataDirectory.appendingPathComponent("consensus.wal").path)
        let signer = try SignerState(path: dataDirectory.appendingPathComponent("signer_state").path)
        let node = await ConsensusNode(chain: chain, key: key, settings: settings, wal: wal, signer: signer, log: log)
        await chain.setGossiping(true)
        let input = node.input
        let gossip = node.gossip
        // Transactions from peers (tag 2) go to their own queue: admitting them (a signature check each) must not
        // hold up proposals and votes behind them.
        let p2p = try await P2PNode.start(config, onMessage: { from, bytes in
                                              if bytes.first == 2 { gossip.yield(bytes) } else { input.yield(.peer(from, bytes)) }
                                          },
                                          onPeer: { key, up in if up { input.yield(.connected(key)) } })
        for peer in peers where peer.publicKey != key.publicKey {
            p2p.addPeer(peer.publicKey, host: peer.host, port: peer.port)
        }
        try await node.run(p2p: p2p, maxFrame: config.maxFrameBytes)
        return node
    }

    private init(chain: Chain, key: SigningKey, settings: Settings, wal: ConsensusWAL, signer: SignerState, log: @escaping @Sendable (String) -> Void) async {
        self.chain = chain
        self.key = key
        self.chainId = chain.genesis.chainId
        self.settings = settings
        self.wal = wal
        self.signer = signer
        self.log = log
        let cache = Mutex(SignatureCache())
        let verifier = SignatureVerifier { key, signature, message in cache.withLock { $0.verify(key, signature, over: message) } }
        self.verifier = verifier
        let status = await chain.status
        engine = ConsensusEngine(chainId: chain.genesis.chainId, key: key, height: status.height + 1, validators: status.nextValidators,
                                 schedule: await chain.proposerSchedule, lastSigned: signer.last, timeouts: settings.timeouts,
                                 verify: verifier.verify, validate: await chain.proposalValidator())
        (events, input) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        // At most this many transaction batches wait; beyond it a peer's batch is dropped (the transactions stay in
        // that peer's mempool and reach a block when it proposes).
        (gossiped, gossip) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(4_096))
    }

    private func run(p2p: P2PNode, maxFrame: Int) async throws {
        self.p2p = p2p
        self.maxFrame = maxFrame
        // The height in progress: start it, then replay what the WAL holds of it (locks, votes seen). The engine's
        // double-sign guard, read back from the signer state, keeps it from signing anything twice.
        let h = await chain.height + 1
        let logged = try wal.readAll().filter { $0.height == h }
        try await startHeight()
        for m in logged {
            if m.sender == key.publicKey { own.append(m) }
            try await process(engine.handle(.message(m)))
        }
        if !logged.isEmpty { log("consensus: replayed \(logged.count) messages of height \(h) from the WAL") }
        let events = self.events
        loop = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
        }
        let gossiped = self.gossiped
        let chain = self.chain
        let log = self.log
        admitter = Task {
            for await bytes in gossiped {
                guard case .transactions(let txs) = try? NetworkMessage.decode(received: bytes) else {
                    log("consensus: an undecodable transaction batch from a peer")
                    continue
                }
                for tx in txs.prefix(NetworkMessage.maxTransactionsPerMessage) { _ = await chain.broadcast(tx, fromPeer: true) }
            }
        }
        let input = self.input
        ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                input.yield(.tick)
            }
        }
    }

    /// Stops consensus and closes the P2P sessions. What is committed is on disk.
    public func stop() async {
        ticker?.cancel()
        input.finish()
        gossip.finish()
        await loop?.value
        await admitter?.value
        try? await p2p?.stop()
    }

    /// Cuts this validator off from its peers (for fault tests, `POST /unsafe/disconnect`), or reconnects it.
    public func setConnected(_ connected: Bool) {
        if connected { p2p?.reconnect() } else { p2p?.disconnectAll() }
    }

    public var connectedPeers: [PublicKey] { p2p?.connectedPeers ?? [] }

    /// Height, round and step of the engine.
    public var position: (height: UInt64, round: UInt32, step: Step) { (engine.height, engine.round, engine.step) }

    // MARK: Events

    private func handle(_ event: Event) async {
        guard halted == nil else { return }
        do {
            switch event {
            case .peer(let from, let bytes):
                let message: NetworkMessage
                do {
                    message = try NetworkMessage.decode(received: bytes)
                } catch {
                    log("consensus: undecodable message from \(from): \(error)")
                    return
                }
                try await receive(message, from: from)
            case .connected(let peer):
                send(.status(height: await chain.height), to: peer)
                for m in own { send(.consensus(m), to: peer) }
            case .timeout(let kind, let h, let r):
                guard started else { return }
                try await process(engine.handle(.timeout(kind, height: h, round: r)))
            case .tick:
                try await tick()
            }
        } catch {
            halted = "\(error)"
            log("consensus: halted: \(error)")
        }
    }

    private func receive(_ message: NetworkMessage, from peer: PublicKey) async throws {
        switch message {
        case .consensus(let m):
            let next = await chain.height + 1
            if !started, m.height == next { try await startHeight() }
            guard m.height >= engine.height else { return }
            if started, m.height == engine.height { try wal.append(m, sync: false) }
            if case .proposal = m {
                let begin = ContinuousClock.now
                let outputs = engine.handle(.message(m))
                heightWork.check += .now - begin
                try await process(outputs)
            } else {
                try await process(engine.handle(.message(m)))
            }
        case .transactions(let txs):
            for tx in txs.prefix(NetworkMessage.maxTransactionsPerMessage) { _ = await chain.broadcast(tx, fromPeer: true) }
        case .status(let h):
            peerHeights[peer] = h
            try await requestBlocksIfBehind()
        case .blockRequest(let from):
            let tip = await chain.height
            guard from >= 1, from <= tip else { return }
            for h in from...min(tip, from + NetworkMessage.maxBlocksPerAnswer - 1) {
                guard let stored = try await chain.block(at: h) else { break }
                send(.block(stored), to: peer)
            }
        case .block(let stored):
            guard stored.block.header.height == (await chain.height) + 1 else { return }
            do {
                try await chain.commit(stored)
            } catch {
                log("consensus: block \(stored.block.header.height) from \(peer) refused: \(error)")
                return
            }
            requestedAt = nil
            try await committed(stored, synced: true)
            try await requestBlocksIfBehind()
        }
    }

    private func requestBlocksIfBehind() async throws {
        let height = await chain.height
        guard let (peer, h) = peerHeights.max(by: { $0.value < $1.value }), h > height else { return }
        if let at = requestedAt, ContinuousClock.now - at < .seconds(2) { return }
        requestedAt = .now
        send(.blockRequest(from: height + 1), to: peer)
    }

    private func tick() async throws {
        let now = ContinuousClock.now
        // Gossip what this node's clients submitted.
        let fresh = await chain.takeFresh()
        var at = 0
        while at < fresh.count {
            let chunk = Array(fresh[at..<min(fresh.count, at + NetworkMessage.maxTransactionsPerMessage)])
            p2p?.broadcast(NetworkMessage.transactions(chunk).encoded)
            at += chunk.count
        }
        // Start the next height once its wait is over.
        if !started {
            let waited = now - committedAt
            let waiting = await chain.mempoolCount > 0 || carryRoot
            if waited >= .milliseconds(settings.emptyBlockMillis) || (waiting && waited >= .milliseconds(settings.blockIntervalMillis)) {
                try await startHeight()
            }
        }
        if now - lastStatus >= .milliseconds(settings.statusMillis) {
            lastStatus = now
            p2p?.broadcast(NetworkMessage.status(height: await chain.height).encoded)
            try await requestBlocksIfBehind()
        }
        // No progress for a while: peers may have missed this node's messages (a reconnect, a restart).
        let position = (engine.height, engine.round, engine.step)
        if position != progress {
            progress = position
            progressAt = now
        } else if started, now - progressAt >= .milliseconds(settings.statusMillis), now - lastResend >= .milliseconds(settings.statusMillis) {
            lastResend = now
            let round = engine.round
            // Its messages of this round and the last, and the proof-of-lock votes of a re-proposal it made.
            let polRounds = Set(own.compactMap { m -> UInt32? in
                if case .proposal(let p) = m, p.round == round, p.polRound >= 0 { return UInt32(p.polRound) } else { return nil }
            })
            for m in own where m.round + 1 >= round || polRounds.contains(m.round) { p2p?.broadcast(NetworkMessage.consensus(m).encoded) }
        }
    }

    // MARK: Heights

    /// Starts the height after the tip: round 0 at once for the first height after a restart, otherwise the
    /// engine moves on from the decided height to the next one.
    private func startHeight() async throws {
        guard !started else { return }
        started = true
        heightStartedAt = .now
        heightWork = (.zero, .zero, .zero)
        if needsAdvance {
            needsAdvance = false
            let status = await chain.status
            try await process(engine.advance(to: status.height + 1, validators: status.nextValidators, schedule: await chain.proposerSchedule,
                                             validate: await chain.proposalValidator()))
        } else {
            try await process(engine.start())
        }
    }

    /// After a block is committed (decided here or fetched by sync): empty the WAL; the next height starts after
    /// its wait (``tick()``), when a peer's message for it arrives, or at once when catching up.
    private func committed(_ stored: StoredBlock, synced: Bool) async throws {
        try wal.reset()
        own = []
        carryRoot = !stored.block.transactions.isEmpty
        committedAt = .now
        started = false
        needsAdvance = true
        if synced { try await startHeight() }
    }

    // MARK: Engine outputs

    private func process(_ outputs: [ConsensusOutput]) async throws {
        for output in outputs {
            switch output {
            case .persistLastSigned(let s):
                try signer.persist(s)
            case .broadcast(let m):
                try wal.append(m, sync: true)
                own.append(m)
                let bytes = NetworkMessage.consensus(m).encoded
                if bytes.count > maxFrame { log("consensus: a \(bytes.count)-byte message exceeds the P2P frame limit of \(maxFrame) bytes and cannot be sent") }
                p2p?.broadcast(bytes)
            case .scheduleTimeout(let kind, let h, let r, let millis):
                let input = self.input
                Task {
                    try? await Task.sleep(for: .milliseconds(millis))
                    input.yield(.timeout(kind, height: h, round: r))
                }
            case .buildProposal(let h, let r):
                guard engine.height == h, engine.round == r else { break }
                let begin = ContinuousClock.now
                let block = await chain.proposal(now: Chain.nowMillis(), proposer: key.publicKey)
                let outputs = engine.handle(.proposalBlock(block, round: r))
                heightWork.build += .now - begin
                try await process(outputs)
            case .decide(let block, let certificate):
                let stored = StoredBlock(block: block, commit: certificate)
                let begin = ContinuousClock.now
                if (await chain.height) < block.header.height {
                    try await chain.commit(stored)
                }
                heightWork.commit += .now - begin
                if !block.transactions.isEmpty {
                    func ms(_ d: Duration) -> Int { Int(d.components.seconds * 1_000 + d.components.attoseconds / 1_000_000_000_000_000) }
                    log("block \(block.header.height): \(block.transactions.count) transactions (round \(certificate.round); \(ms(.now - heightStartedAt)) ms from the height's start, of which building the proposal \(ms(heightWork.build)) ms, checking it \(ms(heightWork.check)) ms, committing \(ms(heightWork.commit)) ms)")
                }
                try await committed(stored, synced: false)
            case .evidence(let e):
                do {
                    let tx = try await chain.submit(.evidence(e))
                    log("consensus: \(e.a.validator) signed two votes at height \(e.a.height) round \(e.a.round); evidence submitted (\(Hex.encode(tx.hash).prefix(16)))")
                } catch {
                    log("consensus: evidence not submitted: \(error)")
                }
            }
        }
    }

    private func send(_ message: NetworkMessage, to peer: PublicKey) {
        p2p?.send(message.encoded, to: peer)
    }
}
