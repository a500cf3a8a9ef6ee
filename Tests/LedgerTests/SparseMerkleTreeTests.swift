import Crypto
import Ledger
import TestSupport
import Testing

@Suite("Sparse Merkle tree")
struct SparseMerkleTreeTests {
    typealias Tree = SparseMerkleTree
    typealias Pair = (key: [UInt8], value: [UInt8])

    // MARK: Hand-written hashing, straight from the documented formulas

    static let zero = [UInt8](repeating: 0, count: 32)

    static func sha(_ parts: [UInt8]...) -> [UInt8] {
        var h = SHA256()
        for p in parts { h.update(data: p) }
        return Array(h.finalize())
    }

    /// SHA-256(0x00 ‖ key ‖ SHA-256(value))
    static func leaf(_ key: [UInt8], _ value: [UInt8]) -> [UInt8] { sha([0x00], key, sha(value)) }

    /// SHA-256(0x01 ‖ left ‖ right)
    static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { sha([0x01], left, right) }

    static func bit(_ key: [UInt8], _ i: Int) -> Int { Int(key[i / 8] >> (7 - i % 8)) & 1 }

    /// An independent, naive root: filter by bit at each depth.
    static func referenceRoot(_ pairs: [Pair], depth: Int = 0) -> [UInt8] {
        if pairs.isEmpty { return zero }
        if pairs.count == 1 { return leaf(pairs[0].key, pairs[0].value) }
        let left = pairs.filter { bit($0.key, depth) == 0 }
        let right = pairs.filter { bit($0.key, depth) == 1 }
        return node(referenceRoot(left, depth: depth + 1), referenceRoot(right, depth: depth + 1))
    }

    /// A 32-byte key with the given leading bytes and a fixed filler after them.
    static func key(_ leading: [UInt8], filler: UInt8 = 0x5A) -> [UInt8] {
        leading + [UInt8](repeating: filler, count: 32 - leading.count)
    }

    static func randomPairs(_ n: Int, seed: UInt64) -> [Pair] {
        var g = SplitMix64(seed: seed)
        var seen = Set<[UInt8]>()
        var out: [Pair] = []
        while out.count < n {
            let k = g.bytes(32)
            guard seen.insert(k).inserted else { continue }
            out.append((k, g.bytes(g.below(40))))
        }
        return out
    }

    static func tree(_ pairs: [Pair]) throws -> Tree {
        var t = Tree()
        for p in pairs { try t.set(p.key, p.value) }
        return t
    }

    static func flipped(_ bytes: [UInt8], bit: Int) -> [UInt8] {
        var b = bytes
        b[bit / 8] ^= UInt8(0x80) >> UInt8(bit % 8)
        return b
    }

    /// Expects `body` to throw a SparseMerkleTree.Error whose reason contains `fragment`.
    static func expectRejects(
        _ fragment: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws(Tree.Error) -> Void
    ) {
        do {
            try body()
            Issue.record("accepted; expected a rejection mentioning \"\(fragment)\"", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason.contains(fragment), "reason was \"\(error.reason)\"", sourceLocation: sourceLocation)
        }
    }

    // MARK: Hand-computed roots

    @Test func emptyTreeRootIsZero() throws {
        let t = Tree()
        #expect(t.root == Self.zero)
        #expect(t.root.count == 32)
        #expect(t.count == 0)
        let p = try t.proof(for: Self.key([1]))
        #expect(p.terminal == .empty)
        #expect(p.siblings.isEmpty)
        try p.verify(root: Self.zero, key: Self.key([1]), value: nil)
    }

    @Test func singleEntryRootIsLeafHash() throws {
        let k = Self.key([0x12, 0x34])
        let v: [UInt8] = Array("hello".utf8)
        var t = Tree()
        try t.set(k, v)
        // SHA-256(0x00 ‖ key ‖ SHA-256(value)), written out.
        var inner = SHA256()
        inner.update(data: v)
        var outer = SHA256()
        outer.update(data: [0x00])
        outer.update(data: k)
        outer.update(data: Array(inner.finalize()))
        let expected = Array(outer.finalize())
        #expect(t.root == expected)
        #expect(Tree.leafHash(key: k, valueHash: Self.sha(v)) == expected)
        #expect(t.count == 1)
        #expect(t[k] == v)
        // The empty value is a value, distinct from absence.
        try t.set(k, [])
        #expect(t.root == Self.leaf(k, []))
        #expect(t.root != Self.zero)
    }

    @Test func firstBitSplitRoot() throws {
        let left = Self.key([0x00, 0x01])   // bit 0 = 0
        let right = Self.key([0x80, 0x01])  // bit 0 = 1
        let lv: [UInt8] = [1, 2, 3]
        let rv: [UInt8] = [4, 5]
        var t = Tree()
        try t.set(right, rv)
        try t.set(left, lv)
        let expected = Self.sha([0x01], Self.leaf(left, lv), Self.leaf(right, rv))
        #expect(t.root == expected)
        #expect(t.root != Self.sha([0x01], Self.leaf(right, rv), Self.leaf(left, lv)))
        let p = try t.proof(for: left)
        #expect(p.siblings == [Self.leaf(right, rv)])
        try p.verify(root: expected, key: left, value: lv)
    }

    @Test func sharedThreeBitPrefixRoot() throws {
        // a = 0100 0000…, b = 0101 0000…: equal in bits 0, 1, 2 (0, 1, 0), differ at bit 3.
        let a = Self.key([0b0100_0000])
        let b = Self.key([0b0101_0000])
        let av: [UInt8] = Array("a".utf8)
        let bv: [UInt8] = Array("b".utf8)
        var t = Tree()
        try t.set(a, av)
        try t.set(b, bv)
        let la = Self.leaf(a, av)
        let lb = Self.leaf(b, bv)
        let depth3 = Self.node(la, lb)               // the split at bit 3
        let depth2 = Self.node(depth3, Self.zero)    // bit 2 = 0: on the left, empty right sibling
        let depth1 = Self.node(Self.zero, depth2)    // bit 1 = 1: on the right, empty left sibling
        let depth0 = Self.node(depth1, Self.zero)    // bit 0 = 0: on the left, empty right sibling
        #expect(t.root == depth0)

        // Membership of a: siblings leaf level first.
        let pa = try t.proof(for: a)
        #expect(pa.terminal == .leaf)
        #expect(pa.siblings == [lb, Self.zero, Self.zero, Self.zero])
        try pa.verify(root: depth0, key: a, value: av)

        // c = 0110…: leaves the occupied path at bit 2 into an empty subtree at depth 3.
        let c = Self.key([0b0110_0000])
        let pc = try t.proof(for: c)
        #expect(pc.terminal == .empty)
        #expect(pc.siblings == [depth3, Self.zero, Self.zero])
        try pc.verify(root: depth0, key: c, value: nil)

        // d = 0100 1…: shares 4 bits with a, so its path ends at a's leaf (depth 4).
        let d = Self.key([0b0100_1000])
        let pd = try t.proof(for: d)
        #expect(pd.terminal == .otherLeaf(key: a, valueHash: Self.sha(av)))
        #expect(pd.siblings == [lb, Self.zero, Self.zero, Self.zero])
        try pd.verify(root: depth0, key: d, value: nil)

        // e = 1…: the empty right half of the root.
        let e = Self.key([0x80])
        let pe = try t.proof(for: e)
        #expect(pe.terminal == .empty)
        #expect(pe.siblings == [depth1])
        try pe.verify(root: depth0, key: e, value: nil)
    }

    @Test func keysDifferingOnlyInLastBitGive256Siblings() throws {
        let a = Self.zero
        var b = Self.zero
        b[31] = 0x01
        var t = Tree()
        try t.set(b, [2])
        try t.set(a, [1])
        var expected = Self.node(Self.leaf(a, [1]), Self.leaf(b, [2]))
        for _ in 0..<255 { expected = Self.node(expected, Self.zero) }
        #expect(t.root == expected)
        let p = try t.proof(for: b)
        #expect(p.siblings.count == 256)
        try p.verify(root: expected, key: b, value: [2])
        let bytes = p.encoded()
        #expect(bytes.count == 3 + 256 * 32)
        #expect(Array(bytes[0..<3]) == [0x00, 0x01, 0x00])
        #expect(try SparseMerkleProof(encoded: bytes) == p)
    }

    @Test func stateKeyDerivation() {
        let input: [UInt8] = Array("Patient/123".utf8)
        let expected = Self.sha(Array("careledger/state-key/v1".utf8), input)
        #expect(Tree.key(input) == expected)
        #expect(Tree.key(input) != Self.sha(input))
        #expect(Tree.key([]) == Self.sha(Array("careledger/state-key/v1".utf8)))
    }

    // MARK: Order independence and removal

    @Test func rootIsIndependentOfInsertionOrderAndRemovalRestoresRoots() throws {
        let pairs = Self.randomPairs(500, seed: 0x5EED_0001)
        let reference = Self.referenceRoot(pairs)

        var orders: [[Pair]] = [pairs, pairs.reversed(), pairs.sorted { $0.key.lexicographicallyPrecedes($1.key) }]
        var g = SplitMix64(seed: 42)
        for _ in 0..<3 {
            var o = pairs
            g.shuffle(&o)
            orders.append(o)
        }
        for o in orders {
            let t = try Self.tree(o)
            #expect(t.count == 500)
            #expect(t.root == reference)
        }

        // Record the root after each insertion, then remove in reverse and see each earlier root again.
        var t = Tree()
        var roots: [[UInt8]] = [t.root]
        for p in pairs {
            try t.set(p.key, p.value)
            roots.append(t.root)
        }
        #expect(Set(roots).count == roots.count, "every insertion changes the root")
        for i in stride(from: pairs.count - 1, through: 0, by: -1) {
            try t.set(pairs[i].key, nil)
            #expect(t.root == roots[i], "after removing key \(i)")
            #expect(t.count == i)
        }
        #expect(t.root == Self.zero)
        #expect(t.count == 0)

        // Remove a shuffled half from the full tree: same root as building the other half directly.
        var full = try Self.tree(pairs)
        var shuffled = pairs
        g.shuffle(&shuffled)
        let removed = shuffled.prefix(250)
        let kept = Array(shuffled.suffix(250))
        for p in removed { try full.set(p.key, nil) }
        #expect(full.root == Self.referenceRoot(kept))
        #expect(full.root == (try Self.tree(kept.reversed())).root)
        for p in removed { #expect(full[p.key] == nil) }
        for p in kept { #expect(full[p.key] == p.value) }

        // Overwriting a value changes the root; writing the old value back restores it.
        let before = full.root
        try full.set(kept[0].key, kept[0].value + [0xFF])
        #expect(full.root != before)
        #expect(full.count == 250)
        try full.set(kept[0].key, kept[0].value)
        #expect(full.root == before)
        // Removing an absent key changes nothing.
        try full.set(removed[removed.startIndex].key, nil)
        #expect(full.root == before)
    }

    @Test func clusteredKeysWithLongSharedPrefixesCollapseOnRemoval() throws {
        // Keys that agree on most bits: long chains of one-child levels, split deep in the key.
        var g = SplitMix64(seed: 7)
        var seen = Set<[UInt8]>()
        var pairs: [Pair] = []
        while pairs.count < 200 {
            var k = Self.zero
            k[15] = UInt8(g.below(2))
            k[31] = UInt8(truncatingIfNeeded: g.next())
            k[30] = UInt8(g.below(2))
            guard seen.insert(k).inserted else { continue }
            pairs.append((k, [UInt8(pairs.count & 0xFF)]))
        }
        let reference = Self.referenceRoot(pairs)
        var t = try Self.tree(pairs)
        #expect(t.root == reference)
        var shuffled = pairs
        g.shuffle(&shuffled)
        #expect(try Self.tree(shuffled).root == reference)
        // Membership and absence proofs along the deep paths.
        for p in pairs.prefix(50) {
            let proof = try t.proof(for: p.key)
            #expect(proof.siblings.count > 120)
            try proof.verify(root: reference, key: p.key, value: p.value)
            var absentKey = p.key
            absentKey[29] = 0x01
            try t.proof(for: absentKey).verify(root: reference, key: absentKey, value: nil)
        }
        // Remove in a shuffled order down to one key: each state matches the naive reference.
        var remaining = shuffled
        while remaining.count > 1 {
            let gone = remaining.removeLast()
            try t.set(gone.key, nil)
            if remaining.count % 10 == 0 || remaining.count < 5 {
                #expect(t.root == Self.referenceRoot(remaining), "with \(remaining.count) keys left")
            }
        }
        // One key left, however deep it sat: the root is its leaf hash again.
        #expect(t.root == Self.leaf(remaining[0].key, remaining[0].value))
        #expect(try t.proof(for: remaining[0].key).siblings.isEmpty)
        try t.set(remaining[0].key, nil)
        #expect(t.root == Self.zero)
    }

    /// Batches of random inserts, replacements, removals (present and absent) and repeated keys, on random and on
    /// clustered keys: `set(many:)` gives the tree `set` gives one update at a time, root, count and every proof.
    @Test func batchedUpdatesEqualOneByOne() throws {
        var g = SplitMix64(seed: 2024)
        for round in 0..<30 {
            let clustered = round % 3 == 0
            func key() -> [UInt8] {
                guard clustered else { return g.bytes(32) }
                var k = Self.zero
                k[3] = UInt8(g.below(2))
                k[31] = UInt8(g.below(6))
                return k
            }
            var single = try Self.tree(Self.randomPairs(g.below(300), seed: UInt64(round)))
            var batched = single
            var known: [[UInt8]] = []
            for _ in 0..<4 {
                var updates: [(key: [UInt8], value: [UInt8]?)] = []
                for _ in 0..<g.below(120) {
                    let k = !known.isEmpty && g.below(3) == 0 ? known[g.below(known.count)] : key()
                    known.append(k)
                    updates.append((k, g.below(4) == 0 ? nil : g.bytes(g.below(20))))
                }
                for u in updates { try single.set(u.key, u.value) }
                try batched.set(many: updates)
                #expect(batched.root == single.root, "round \(round)")
                #expect(batched.count == single.count, "round \(round)")
                for k in known.suffix(20) {
                    #expect(batched[k] == single[k])
                    #expect(try batched.proof(for: k) == single.proof(for: k))
                }
            }
            // Removing every key the batches touched, in one batch.
            var all = batched
            try all.set(many: known.map { ($0, nil) })
            var emptied = single
            for k in known { try emptied.set(k, nil) }
            #expect(all.root == emptied.root && all.count == emptied.count)
        }
        var t = Tree()
        #expect(throws: SparseMerkleTree.Error.self) { try t.set(many: [([1, 2, 3], [])]) }
    }

    @Test func copiesAreIndependentValues() throws {
        var a = try Self.tree(Self.randomPairs(50, seed: 11))
        let rootBefore = a.root
        var b = a
        try b.set(Self.key([0xEE]), [1])
        #expect(a.root == rootBefore)
        #expect(b.root != rootBefore)
        #expect(a[Self.key([0xEE])] == nil)
        #expect(b.count == a.count + 1)
        try a.set(Self.key([0xEE]), [1])
        #expect(a.root == b.root)
    }

    // MARK: Proofs over 1,000 keys

    static let bigPairs = randomPairs(1_000, seed: 0xC0FFEE)

    @Test func membershipProofsVerifyAndRejectTampering() throws {
        let pairs = Self.bigPairs
        let t = try Self.tree(pairs)
        let root = t.root
        #expect(root == Self.referenceRoot(pairs))
        var other = t
        try other.set(Self.key([0xAB, 0xCD], filler: 0x11), [9])
        let otherRoot = other.root
        #expect(otherRoot != root)

        for (n, p) in pairs.enumerated() {
            let proof = try t.proof(for: p.key)
            #expect(proof.isMembership)
            #expect(proof.terminal == .leaf)
            #expect(proof.siblings.count <= 256)
            try proof.verify(root: root, key: p.key, value: p.value)

            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: root, key: p.key, value: p.value + [0])
            }
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: otherRoot, key: p.key, value: p.value)
            }
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: Self.flipped(root, bit: n % 256), key: p.key, value: p.value)
            }
            Self.expectRejects("membership proof cannot prove absence") { () throws(Tree.Error) in
                try proof.verify(root: root, key: p.key, value: nil)
            }
            // The same siblings relabelled as an absence proof do not reach the root either.
            let relabelled = SparseMerkleProof(siblings: proof.siblings, terminal: .empty)
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try relabelled.verify(root: root, key: p.key, value: nil)
            }
            // A proof for one key does not prove another key's value.
            let next = pairs[(n + 1) % pairs.count]
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: root, key: next.key, value: p.value)
            }
            for i in proof.siblings.indices {
                var s = proof.siblings
                s[i] = Self.flipped(s[i], bit: (n * 31 + i * 7) % 256)
                let tampered = SparseMerkleProof(siblings: s, terminal: .leaf)
                Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                    try tampered.verify(root: root, key: p.key, value: p.value)
                }
            }

            let bytes = proof.encoded()
            #expect(bytes.count == 3 + 32 * proof.siblings.count)
            let decoded = try SparseMerkleProof(encoded: bytes)
            #expect(decoded == proof)
            #expect(decoded.encoded() == bytes)
            try decoded.verify(root: root, key: p.key, value: p.value)
            Self.expectRejects("trailing") { () throws(Tree.Error) in _ = try SparseMerkleProof(encoded: bytes + [0]) }
            Self.expectRejects("truncated") { () throws(Tree.Error) in
                _ = try SparseMerkleProof(encoded: Array(bytes.dropLast()))
            }
        }
    }

    @Test func nonMembershipProofsVerifyAndRejectTampering() throws {
        let pairs = Self.bigPairs
        let t = try Self.tree(pairs)
        let root = t.root
        let present = Set(pairs.map(\.key))
        let absent = Self.randomPairs(1_000, seed: 0xAB5E17).map(\.key).filter { !present.contains($0) }
        #expect(absent.count == 1_000)
        var other = t
        try other.set(pairs[0].key, nil)
        let otherRoot = other.root

        var emptyEndings = 0
        var otherLeafEndings = 0
        for (n, k) in absent.enumerated() {
            #expect(t[k] == nil)
            let proof = try t.proof(for: k)
            #expect(!proof.isMembership)
            try proof.verify(root: root, key: k, value: nil)

            switch proof.terminal {
            case .leaf:
                Issue.record("absent key got a membership proof")
            case .empty:
                emptyEndings += 1
            case .otherLeaf(let otherKey, let valueHash):
                otherLeafEndings += 1
                #expect(otherKey != k)
                #expect(present.contains(otherKey))
                // A different value hash for the occupying leaf breaks the proof.
                let tampered = SparseMerkleProof(
                    siblings: proof.siblings,
                    terminal: .otherLeaf(key: otherKey, valueHash: Self.flipped(valueHash, bit: n % 256))
                )
                Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                    try tampered.verify(root: root, key: k, value: nil)
                }
                // Turned into a claim that the occupying key itself is absent: rejected.
                Self.expectRejects("other leaf's key is the queried key") { () throws(Tree.Error) in
                    try proof.verify(root: root, key: otherKey, value: nil)
                }
            }

            Self.expectRejects("non-membership proof cannot prove membership") { () throws(Tree.Error) in
                try proof.verify(root: root, key: k, value: [])
            }
            // The same siblings relabelled as a membership proof do not reach the root.
            let relabelled = SparseMerkleProof(siblings: proof.siblings, terminal: .leaf)
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try relabelled.verify(root: root, key: k, value: [])
            }
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: otherRoot, key: k, value: nil)
            }
            Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                try proof.verify(root: Self.flipped(root, bit: (n * 5) % 256), key: k, value: nil)
            }
            for i in proof.siblings.indices {
                var s = proof.siblings
                s[i] = Self.flipped(s[i], bit: (n * 13 + i * 3) % 256)
                let tampered = SparseMerkleProof(siblings: s, terminal: proof.terminal)
                Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
                    try tampered.verify(root: root, key: k, value: nil)
                }
            }

            let bytes = proof.encoded()
            let otherLeafBytes = proof.terminal == .empty ? 0 : 64
            #expect(bytes.count == 3 + 32 * proof.siblings.count + otherLeafBytes)
            #expect(bytes[0] == (proof.terminal == .empty ? 0x01 : 0x02))
            let decoded = try SparseMerkleProof(encoded: bytes)
            #expect(decoded == proof)
            #expect(decoded.encoded() == bytes)
            try decoded.verify(root: root, key: k, value: nil)
            Self.expectRejects("trailing") { () throws(Tree.Error) in _ = try SparseMerkleProof(encoded: bytes + [0]) }
            Self.expectRejects("truncated") { () throws(Tree.Error) in
                _ = try SparseMerkleProof(encoded: Array(bytes.dropLast()))
            }
        }
        // Random keys in a 1,000-key tree end in both ways.
        #expect(emptyEndings > 0)
        #expect(otherLeafEndings > 0)
        #expect(emptyEndings + otherLeafEndings == 1_000)
    }

    // MARK: Malformed input

    @Test func verifierRejectsMalformedProofs() throws {
        let a = Self.key([0b0100_0000])
        let b = Self.key([0b0101_0000])
        var t = Tree()
        try t.set(a, [1])
        try t.set(b, [2])
        let root = t.root
        let pa = try t.proof(for: a)
        try pa.verify(root: root, key: a, value: [1])

        // A one-entry tree: "the other leaf is the queried key" would otherwise hash to the root.
        var single = Tree()
        try single.set(a, [1])
        let forged = SparseMerkleProof(siblings: [], terminal: .otherLeaf(key: a, valueHash: Self.sha([1])))
        Self.expectRejects("other leaf's key is the queried key") { () throws(Tree.Error) in
            try forged.verify(root: single.root, key: a, value: nil)
        }

        // An other leaf that leaves the path: b differs from a at bit 3, inside a 4-bit path.
        let offPath = SparseMerkleProof(siblings: pa.siblings, terminal: .otherLeaf(key: a, valueHash: Self.sha([1])))
        Self.expectRejects("differs from the queried key at bit 3") { () throws(Tree.Error) in
            try offPath.verify(root: root, key: Self.key([0b0101_1000]), value: nil)
        }

        let tooMany = SparseMerkleProof(siblings: [[UInt8]](repeating: Self.sha([7]), count: 257), terminal: .leaf)
        Self.expectRejects("257 siblings") { () throws(Tree.Error) in try tooMany.verify(root: root, key: a, value: [1]) }

        let shortSibling = SparseMerkleProof(siblings: [Array(pa.siblings[0].dropLast())] + pa.siblings.dropFirst(), terminal: .leaf)
        Self.expectRejects("sibling 0 is 31 bytes") { () throws(Tree.Error) in
            try shortSibling.verify(root: root, key: a, value: [1])
        }
        Self.expectRejects("root is 31 bytes") { () throws(Tree.Error) in
            try pa.verify(root: Array(root.dropLast()), key: a, value: [1])
        }
        Self.expectRejects("key is 33 bytes") { () throws(Tree.Error) in try pa.verify(root: root, key: a + [0], value: [1]) }
        let shortOther = SparseMerkleProof(siblings: [], terminal: .otherLeaf(key: Array(a.dropLast()), valueHash: Self.sha([1])))
        Self.expectRejects("other leaf's key is 31 bytes") { () throws(Tree.Error) in
            try shortOther.verify(root: single.root, key: b, value: nil)
        }
        let shortValueHash = SparseMerkleProof(siblings: [], terminal: .otherLeaf(key: a, valueHash: [1]))
        Self.expectRejects("value hash is 1 bytes") { () throws(Tree.Error) in
            try shortValueHash.verify(root: single.root, key: b, value: nil)
        }
        // A non-compact proof: a's leaf pushed one level down next to an empty sibling.
        let padded = SparseMerkleProof(siblings: [Self.zero], terminal: .leaf)
        Self.expectRejects("deepest sibling is empty") { () throws(Tree.Error) in
            try padded.verify(root: Self.node(Self.leaf(a, [1]), Self.zero), key: a, value: [1])
        }
        // The empty tree proves nothing present, and an empty-terminal proof needs the zero root.
        let emptyProof = try Tree().proof(for: a)
        Self.expectRejects("non-membership proof cannot prove membership") { () throws(Tree.Error) in
            try emptyProof.verify(root: Self.zero, key: a, value: [1])
        }
        Self.expectRejects("does not lead to the root") { () throws(Tree.Error) in
            try emptyProof.verify(root: single.root, key: b, value: nil)
        }
    }

    @Test func decoderIsStrict() throws {
        let a = Self.key([0x01])
        var t = Tree()
        try t.set(a, [1])
        try t.set(Self.key([0x81]), [2])
        let p = try t.proof(for: Self.key([0x02]))   // ends at a's leaf
        #expect(p.terminal == .otherLeaf(key: a, valueHash: Self.sha([1])))
        let bytes = p.encoded()
        #expect(bytes.count == 3 + 32 + 64)
        #expect(Array(bytes[0..<3]) == [0x02, 0x00, 0x01])
        #expect(Array(bytes[3..<35]) == p.siblings[0])
        #expect(Array(bytes[35..<67]) == a)
        #expect(Array(bytes[67..<99]) == Self.sha([1]))
        #expect(try SparseMerkleProof(encoded: bytes) == p)

        // Every proper prefix is rejected, and so is any extension.
        for n in 0..<bytes.count {
            #expect(throws: Tree.Error.self) { _ = try SparseMerkleProof(encoded: Array(bytes.prefix(n))) }
        }
        for extra in 1...64 {
            #expect(throws: Tree.Error.self) { _ = try SparseMerkleProof(encoded: bytes + [UInt8](repeating: 0, count: extra)) }
        }
        Self.expectRejects("unknown proof terminal tag 3") { () throws(Tree.Error) in
            _ = try SparseMerkleProof(encoded: [0x03] + bytes.dropFirst())
        }
        Self.expectRejects("257 siblings") { () throws(Tree.Error) in
            _ = try SparseMerkleProof(encoded: [0x00, 0x01, 0x01] + [UInt8](repeating: 0xAA, count: 257 * 32))
        }
        Self.expectRejects("3-byte header") { () throws(Tree.Error) in _ = try SparseMerkleProof(encoded: [0x00, 0x00]) }
        // The minimal encodings.
        #expect(try SparseMerkleProof(encoded: [0x00, 0x00, 0x00]) == SparseMerkleProof(siblings: [], terminal: .leaf))
        #expect(try SparseMerkleProof(encoded: [0x01, 0x00, 0x00]) == SparseMerkleProof(siblings: [], terminal: .empty))
        // A membership tag with other-leaf bytes appended is rejected as trailing bytes.
        Self.expectRejects("trailing") { () throws(Tree.Error) in
            _ = try SparseMerkleProof(encoded: [0x00] + bytes.dropFirst())
        }
    }

    @Test func keysMustBe32Bytes() throws {
        var t = Tree()
        Self.expectRejects("key is 31 bytes") { () throws(Tree.Error) in try t.set([UInt8](repeating: 1, count: 31), [1]) }
        Self.expectRejects("key is 33 bytes") { () throws(Tree.Error) in try t.set([UInt8](repeating: 1, count: 33), nil) }
        Self.expectRejects("key is 0 bytes") { () throws(Tree.Error) in _ = try t.proof(for: []) }
        #expect(t.count == 0)
        #expect(t.root == Self.zero)
        try t.set(Self.key([1]), [1])
        #expect(t[[1]] == nil)
        #expect(t[Self.key([1])] == [1])
        #expect(Tree.Error("x").description == "x")
    }
}
