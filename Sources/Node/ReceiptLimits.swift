import Ledger

/// Every limit on the receipts and consent proofs `careledger verify` reads (docs/receipt.md, docs/node.md), in one
/// place. A reader checks them before it builds anything from the input, so a hostile file costs at most
/// ``maxBytes`` of memory (and a small multiple while it is decoded).
public enum ReceiptLimits {
    /// Validators in one set, and signatures in one commit: four times a testnet's 64 (`Testnet.maxValidators`),
    /// above the largest CometBFT sets in production (~200).
    public static let maxValidators = 256
    /// Light blocks in a light path: a path from the genesis through 64 validator sets that each replaced more than
    /// two thirds of the set before (bisection needs one block per such change).
    public static let maxLightPath = 64
    /// Hashes in an inclusion proof, a manifest proof or a transaction proof: a tree of 2^64 leaves needs 64.
    public static let maxProofHashes = Merkle.maxProofLength
    /// Directive entries in a consent proof (one per directive of the patient), and hashes in its answer's `basedOn`.
    public static let maxConsentEntries = 4_096
    /// Strings in each list of a consent proof's query (actors, purposes, classes, labels, codes) and obligations in
    /// its answer.
    public static let maxQueryTerms = 1_024
    /// Nesting of JSON objects and arrays: a receipt nests 6 deep (`lightPath[0].commit.signatures[0]`), a consent
    /// proof's response card 10.
    public static let maxDepth = 16
    /// Bytes of one receipt or proof. The largest receipt the limits above allow is about 8 MB: per light block, a
    /// header and commit of ~1 KB and, per validator, ~480 bytes as written (two set entries of ~127 bytes and a
    /// signature of ~225); 65 blocks (the path and the anchoring block) × (1 KB + 256 × 480 bytes) ≈ 8.05 MB. Twice
    /// that leaves room for indentation and longer chain ids.
    public static let maxBytes = 16 << 20
    /// Bytes of a genesis.json a verifier trusts (a few hundred bytes per validator).
    public static let maxGenesisBytes = 4 << 20
}
