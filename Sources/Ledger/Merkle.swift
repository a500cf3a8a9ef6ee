import Crypto

/// RFC 6962 (RFC 9162 §2.1) Merkle trees over SHA-256: the structure a batch of record commitments is anchored
/// in. Leaf hash `SHA-256(0x00 ‖ data)`, interior node `SHA-256(0x01 ‖ left ‖ right)`, the empty tree's hash
/// `SHA-256()`. The tree over n leaves splits at the largest power of two below n.
///
/// Everything here is pure and deterministic. Proof verification is bounded: a proof is refused beyond
/// ``maxProofLength`` nodes (a tree of 2^64 leaves needs at most 64).
public enum Merkle {
    /// A 32-byte hash.
    public typealias Hash = [UInt8]

    public static let hashLength = 32
    public static let maxProofLength = 64

    /// What is wrong with a proof or a tree request.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public let reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    public static func leafHash(_ data: [UInt8]) -> Hash {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: data)
        return Array(h.finalize())
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// The hash of the empty tree.
    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The root over leaf hashes (MTH of RFC 6962 §2.1, given the leaves already hashed).
    public static func root(leafHashes: [Hash]) -> Hash {
        leafHashes.isEmpty ? emptyRoot : subtreeRoot(leafHashes[...])
    }

    /// The root over leaf data.
    public static func root(leaves: [[UInt8]]) -> Hash {
        root(leafHashes: leaves.map(leafHash))
    }

    static func subtreeRoot(_ leaves: ArraySlice<Hash>) -> Hash {
        // Bottom-up: pair neighbours level by level; an odd last node moves up unchanged. This gives the same
        // tree as the recursive split (the left subtree is always the largest complete power of two).
        var level = Array(leaves)
        while level.count > 1 {
            var next: [Hash] = []
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i + 1 < level.count {
                next.append(nodeHash(level[i], level[i + 1]))
                i += 2
            }
            if i < level.count { next.append(level[i]) }
            level = next
        }
        return level[0]
    }

    // MARK: Proofs

    /// The inclusion proof of leaf `index` in the tree over `leafHashes` (PATH of RFC 6962 §2.1.1).
    public static func inclusionProof(index: Int, leafHashes: [Hash]) throws(Merkle.Error) -> [Hash] {
        guard index >= 0, index < leafHashes.count else {
            throw Error("leaf index \(index) is outside a tree of \(leafHashes.count) leaves")
        }
        var proof: [Hash] = []
        path(index, leafHashes[...], into: &proof)
        return proof
    }

    private static func path(_ m: Int, _ d: ArraySlice<Hash>, into proof: inout [Hash]) {
        guard d.count > 1 else { return }
        let k = split(d.count)
        let mid = d.startIndex + k
        if m < k {
            path(m, d[d.startIndex..<mid], into: &proof)
            proof.append(subtreeRoot(d[mid...]))
        } else {
            path(m - k, d[mid...], into: &proof)
            proof.append(subtreeRoot(d[d.startIndex..<mid]))
        }
    }

    /// The consistency proof from the tree over the first `oldSize` leaves to the tree over all of them
    /// (PROOF of RFC 6962 §2.1.2). `oldSize` is between 1 and the number of leaves.
    public static func consistencyProof(oldSize: Int, leafHashes: [Hash]) throws(Merkle.Error) -> [Hash] {
        guard oldSize >= 1, oldSize <= leafHashes.count else {
            throw Error("a consistency proof needs 0 < old size ≤ new size; got \(oldSize) and \(leafHashes.count)")
        }
        var proof: [Hash] = []
        subproof(oldSize, leafHashes[...], complete: true, into: &proof)
        return proof
    }

    private static func subproof(_ m: Int, _ d: ArraySlice<Hash>, complete: Bool, into proof: inout [Hash]) {
        let n = d.count
        if m == n {
            if !complete { proof.append(subtreeRoot(d)) }
            return
        }
        let k = split(n)
        let mid = d.startIndex + k
        if m <= k {
            subproof(m, d[d.startIndex..<mid], complete: complete, into: &proof)
            proof.append(subtreeRoot(d[mid...]))
        } else {
            subproof(m - k, d[mid...], complete: false, into: &proof)
            proof.append(subtreeRoot(d[d.startIndex..<mid]))
        }
    }

    /// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leafHash` is at `index` in the tree
    /// of `treeSize` leaves whose root is `root`.
    public static func verifyInclusion(leafHash: Hash, index: UInt64, treeSize: UInt64, proof: [Hash], root: Hash) throws(Merkle.Error) {
        try checkLengths(proof: proof, [leafHash, root])
        guard index < treeSize else { throw Error("leaf index \(index) is not below the tree size \(treeSize)") }
        var fn = index
        var sn = treeSize - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw Error("the proof is longer than a tree of \(treeSize) leaves needs") }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Error("the proof is shorter than a tree of \(treeSize) leaves needs") }
        guard r == root else { throw Error("the proof leads to another root: the leaf is not in this tree") }
    }

    /// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `newSize` leaves with root `newRoot`
    /// extends the tree of `oldSize` leaves with root `oldRoot`.
    public static func verifyConsistency(oldSize: UInt64, newSize: UInt64, oldRoot: Hash, newRoot: Hash, proof: [Hash]) throws(Merkle.Error) {
        guard oldSize >= 1, oldSize <= newSize else {
            throw Error("a consistency proof needs 0 < old size ≤ new size; got \(oldSize) and \(newSize)")
        }
        // Equal sizes: the roots must be the same bytes and there is nothing to hash (as the reference verifier
        // of transparency-dev/merkle, whose vectors accept any equal roots here).
        if oldSize == newSize {
            guard proof.isEmpty else { throw Error("trees of the same size need an empty proof") }
            guard oldRoot == newRoot else { throw Error("two trees of the same size have different roots") }
            return
        }
        try checkLengths(proof: proof, [oldRoot, newRoot])
        var path = proof
        // An old tree that is a complete power of two is itself the first node of the path.
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard let first = path.first else { throw Error("the proof is empty") }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = first
        var sr = first
        for c in path.dropFirst() {
            guard sn != 0 else { throw Error("the proof is longer than these tree sizes need") }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Error("the proof is shorter than these tree sizes need") }
        guard fr == oldRoot else { throw Error("the proof does not lead to the old root") }
        guard sr == newRoot else { throw Error("the proof does not lead to the new root") }
    }

    private static func checkLengths(proof: [Hash], _ hashes: [Hash]) throws(Merkle.Error) {
        guard proof.count <= maxProofLength else { throw Error("a proof of \(proof.count) nodes is longer than any tree needs") }
        for h in hashes + proof where h.count != hashLength {
            throw Error("every hash is \(hashLength) bytes; found one of \(h.count)")
        }
    }
}
