import Crypto
import Foundation
import Ledger
import Synchronization

/// A load test in the manner of CometBFT's loadtime: transactions at a fixed rate, each carrying its send time,
/// spread over the validators' RPCs; latency is the time a transaction's block reached the watched node's block
/// store (fsync'ed, committed) minus its send time. Transactions are AnchorBatch transactions of `txSize` encoded
/// bytes from a pool of load keys registered first, each key always sent to the same validator so its nonces
/// arrive in order.
public enum LoadGenerator {
    public struct Settings: Sendable {
        public var rate: Int
        public var duration: Duration
        public var txSize: Int
        /// Load keys (each one a participant registered before the run).
        public var keys: Int = 64
        /// How long to wait after the last send for accepted transactions to commit.
        public var drain: Duration = .seconds(20)
        /// Transactions are sent in batches every this many milliseconds.
        public var tickMillis = 50
        /// The node whose block store is watched for commits.
        public var watch = 0
        /// Called once the load keys are registered, just before the timed load begins (a fault schedule
        /// that should hit the load, not the registration, starts here).
        public var onLoadStart: (@Sendable () -> Void)?

        public init(rate: Int, duration: Duration, txSize: Int) {
            self.rate = rate
            self.duration = duration
            self.txSize = txSize
        }
    }

    public struct Report: Sendable {
        public var rate: Int
        public var seconds: Double
        public var sent = 0
        public var accepted = 0
        /// Refused by a node (mempool full, a nonce gap after a node lost its mempool).
        public var refused = 0
        /// Not delivered: the node was down or cut off.
        public var unreachable = 0
        public var committed = 0
        /// Accepted by a node but never committed.
        public var lost = 0
        public var latencies: [Int64] = []
        public var committedHashes: [[UInt8]: UInt64] = [:]

        public var throughput: Double { seconds > 0 ? Double(committed) / seconds : 0 }

        public func percentile(_ p: Double) -> Int64 {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            let index = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
            return sorted[index]
        }

        /// `throughput: X tx/s, p50: Y ms, p99: Z ms, lost: N`
        public var line: String {
            "throughput: \(Int(throughput.rounded())) tx/s, p50: \(percentile(0.50)) ms, p99: \(percentile(0.99)) ms, lost: \(lost)"
        }

        public var detail: String {
            "rate \(rate) tx/s for \(String(format: "%.1f", seconds)) s: sent \(sent), accepted \(accepted), refused \(refused), unreachable \(unreachable), committed \(committed), lost \(lost); max latency \(latencies.max() ?? 0) ms"
        }
    }

    static let marker = "careledger-load/1 "

    private struct Shared {
        var sendTimes: [[UInt8]: Int64] = [:]
        var committed: [[UInt8]: UInt64] = [:]
        var latencies: [Int64] = []
        var watchedHeight: UInt64 = 0
    }

    /// Runs the load against `network`'s running validators; `log` receives progress lines.
    public static func run(network: LocalNetwork, settings: Settings, log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Report {
        guard settings.rate >= 1, settings.txSize >= 200, settings.txSize <= 64 << 10, settings.keys >= 1 else {
            throw NodeError("the load needs a rate of at least 1 tx/s and a transaction size of 200 bytes to 64 KiB")
        }
        let genesis = try network.homes[0].genesis()
        let chainId = genesis.chainId
        let keys = (0..<settings.keys).map { _ in SigningKey() }
        let n = network.count
        let shared = Mutex(Shared())
        let blocks = try BlockStore(path: network.homes[settings.watch].blocksFile.path, writable: false)
        let startHeight = blocks.height

        // The watcher: every committed block of the watched node, as it reaches the disk.
        let watcher = Task {
            var next = startHeight + 1
            while !Task.isCancelled {
                try? blocks.refresh()
                while next <= blocks.height, let stored = try? blocks.block(at: next) {
                    let now = Chain.nowMillis()
                    shared.withLock { s in
                        for tx in stored.block.transactions {
                            let hash = tx.hash
                            guard let sent = s.sendTimes[hash], s.committed[hash] == nil else { continue }
                            s.committed[hash] = next
                            if sent > 0 { s.latencies.append(now - sent) }
                        }
                        s.watchedHeight = next
                    }
                    next += 1
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { watcher.cancel() }

        // Register the load keys.
        var registrations: [[Transaction]] = Array(repeating: [], count: n)
        for (i, key) in keys.enumerated() {
            let tx = try Transaction(signing: .registerParticipant(RegisterParticipant(name: "load-\(i)", nodeKey: key.publicKey)), nonce: 0, chainId: chainId, with: key)
            shared.withLock { $0.sendTimes[tx.hash] = 0 }
            registrations[i % n].append(tx)
        }
        // A registration not committed yet is sent again every 2 s, to the next validator each time: a node that
        // was down, cut off or too slow to answer must not lose a key (a real client resubmits the same way).
        let registered = ContinuousClock.now
        var attempt = 0
        while true {
            let pending: [[Transaction]] = shared.withLock { s in registrations.map { $0.filter { s.committed[$0.hash] == nil } } }
            if pending.allSatisfy(\.isEmpty) { break }
            guard ContinuousClock.now - registered < .seconds(60) else {
                let waiting = pending.reduce(0) { $0 + $1.count }
                throw NodeError("\(waiting) of \(keys.count) load keys were not registered within 60 s (node\(settings.watch) is at height \(shared.withLock { $0.watchedHeight })): is the network making blocks?")
            }
            await withTaskGroup(of: Void.self) { group in
                for k in 0..<n where !pending[k].isEmpty {
                    let target = (k + attempt) % n
                    group.addTask { _ = try? await post(pending[k], to: target, network: network) }
                }
            }
            attempt += 1
            let resend = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < resend, shared.withLock({ s in registrations.contains { $0.contains { s.committed[$0.hash] == nil } } }) {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        log("registered \(keys.count) load keys")
        settings.onLoadStart?()

        // The template: pad the batch's canonical-form string so the encoded transaction is txSize bytes.
        var padding = ""
        func transaction(_ key: SigningKey, nonce: UInt64, sent: Int64, pad: Int) throws -> Transaction {
            // Unique per (fresh key, nonce), without a system call per byte.
            var seed = key.publicKey.bytes
            withUnsafeBytes(of: nonce.bigEndian) { seed += $0 }
            let root = Array(SHA256.hash(data: seed))
            if padding.utf8.count != pad { padding = String(repeating: "x", count: pad) }
            let form = marker + String(sent) + " " + padding
            return try Transaction(signing: .anchorBatch(AnchorBatch(root: root, leafCount: 1, firstTxid: 1, lastTxid: 1, canonicalForm: form, submitter: key.publicKey)),
                                   nonce: nonce, chainId: chainId, with: key)
        }
        let probe = try transaction(keys[0], nonce: 1, sent: Chain.nowMillis(), pad: 0)
        let pad = max(0, settings.txSize - probe.encoded.count)

        var report = Report(rate: settings.rate, seconds: 0)
        var nonces = Array(repeating: UInt64(1), count: keys.count)
        var made = 0
        var accepted = Set<[UInt8]>()
        let begin = ContinuousClock.now
        var lastLog = begin
        var tick = 0
        while ContinuousClock.now - begin < settings.duration {
            let elapsed = ContinuousClock.now - begin
            let due = Int((Double(settings.rate) * elapsed.seconds).rounded(.down))
            var perNode: [[(key: Int, tx: Transaction)]] = Array(repeating: [], count: n)
            let now = Chain.nowMillis()
            while made < due {
                let k = made % keys.count
                let tx = try transaction(keys[k], nonce: nonces[k], sent: now, pad: pad)
                nonces[k] += 1
                shared.withLock { $0.sendTimes[tx.hash] = now }
                perNode[k % n].append((k, tx))
                made += 1
            }
            report.sent += perNode.reduce(0) { $0 + $1.count }
            // One POST per validator, concurrently.
            let answers = await withTaskGroup(of: (Int, BatchAnswer?).self) { group in
                for node in 0..<n where !perNode[node].isEmpty {
                    let txs = perNode[node].map(\.tx)
                    group.addTask { (node, try? await post(txs, to: node, network: network)) }
                }
                var out: [(Int, BatchAnswer?)] = []
                for await a in group { out.append(a) }
                return out
            }
            for (node, answer) in answers {
                let batch = perNode[node]
                guard let answer else {
                    report.unreachable += batch.count
                    // Not delivered: those nonces are free again.
                    for (k, tx) in batch { nonces[k] = min(nonces[k], tx.nonce) }
                    continue
                }
                report.refused += answer.refused.count
                let refusedIndexes = Set(answer.refused.map(\.index))
                for (i, (k, tx)) in batch.enumerated() {
                    if refusedIndexes.contains(i) {
                        if let expected = answer.refused.first(where: { $0.index == i })?.expectedNonce { nonces[k] = expected }
                    } else {
                        accepted.insert(tx.hash)
                    }
                }
            }
            tick += 1
            if ContinuousClock.now - lastLog >= .seconds(5) {
                lastLog = .now
                let c = shared.withLock { $0.committed.count } - keys.count
                log("… \(Int((ContinuousClock.now - begin).seconds)) s: sent \(report.sent), accepted \(accepted.count), committed \(c)")
            }
            let nextTick = begin + .milliseconds(settings.tickMillis * tick)
            if nextTick > ContinuousClock.now { try await Task.sleep(until: nextTick) }
        }
        report.seconds = (ContinuousClock.now - begin).seconds
        report.accepted = accepted.count

        // Drain: wait for what was accepted to commit.
        let drainStart = ContinuousClock.now
        while ContinuousClock.now - drainStart < settings.drain {
            let pending = shared.withLock { s in accepted.filter { s.committed[$0] == nil }.count }
            if pending == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        watcher.cancel()
        let final = shared.withLock { $0 }
        report.latencies = final.latencies
        report.committedHashes = final.committed
        report.committed = final.latencies.count
        report.lost = accepted.filter { final.committed[$0] == nil }.count
        return report
    }

    private static func post(_ txs: [Transaction], to node: Int, network: LocalNetwork) async throws -> BatchAnswer {
        var w = LedgerWriter()
        w.list(txs) { $0.value($1) }
        let answer = try await network.call(node, "POST", "/broadcast_txs", body: w.bytes, timeout: 10)
        guard answer.status == 200, let batch = try? RPCJSON.decode(BatchAnswer.self, from: answer.body) else {
            throw NodeError("node\(node) answered \(answer.status) to /broadcast_txs")
        }
        return batch
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
