public import Consensus
public import Ledger

/// What validators send each other over their P2P sessions (docs/consensus.md, "Network"): one message per
/// frame, in the ledger's canonical encoding, a tag byte first.
public enum NetworkMessage: LedgerEncodable, Hashable {
    /// A proposal or a vote.
    case consensus(ConsensusMessage)
    /// Transactions admitted to the sender's mempool (its own clients' transactions, batched).
    case transactions([Transaction])
    /// The sender's committed height, every second and on connecting: a peer that is behind asks for blocks.
    case status(height: UInt64)
    /// Asks for committed blocks from `from` on (the answer holds at most ``maxBlocksPerAnswer``).
    case blockRequest(from: UInt64)
    /// A committed block with the certificate that finalized it (block sync).
    case block(StoredBlock)

    public static let maxBlocksPerAnswer: UInt64 = 20
    /// Transactions per `.transactions` message at most.
    public static let maxTransactionsPerMessage = 1_000

    public func encode(to w: inout LedgerWriter) {
        switch self {
        case .consensus(let m):
            w.u8(1)
            w.value(m)
        case .transactions(let txs):
            w.u8(2)
            w.list(txs) { $0.value($1) }
        case .status(let h):
            w.u8(3)
            w.u64(h)
        case .blockRequest(let from):
            w.u8(4)
            w.u64(from)
        case .block(let stored):
            w.u8(5)
            w.value(stored.block)
            w.value(stored.commit)
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> NetworkMessage {
        let at = r.offset
        switch try r.u8() {
        case 1: return .consensus(try r.value())
        case 2: return .transactions(try r.list { (r) throws(LedgerDecodingError) in try r.value(Transaction.self) })
        case 3: return .status(height: try r.u64())
        case 4: return .blockRequest(from: try r.u64())
        case 5: return .block(StoredBlock(block: try r.value(), commit: try r.value()))
        case let t: throw LedgerDecodingError("unknown network message \(t)", at: at)
        }
    }

    /// Decodes one message received from a peer, within the P2P frame limit.
    public static func decode(received bytes: [UInt8]) throws(LedgerDecodingError) -> NetworkMessage {
        var r = LedgerReader(bytes)
        r.maxBytes = 16 << 20
        let m = try decode(from: &r)
        try r.finish()
        return m
    }
}
