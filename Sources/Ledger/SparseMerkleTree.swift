import Crypto

/// A compact sparse Merkle tree over SHA-256: the structure the ledger's application state commits to (the state
/// root in every block header). It gives membership proofs (key K holds value V) and non-membership proofs (key K
/// holds nothing) against a 32-byte root.
///
/// ## Keys and values
///
/// A key is exactly 32 bytes. Callers hash their own state keys with ``key(_:)``:
/// `key(b) = SHA-256("careledger/state-key/v1" ‖ b)` (the tag is its 23 UTF-8 bytes, no length prefix, no
/// terminator). A value is any byte string (possibly empty); the tree commits to `SHA-256(value)`.
///
/// ## The tree
///
/// Conceptually a binary tree of depth 256 over the key bits. Bit `i` of a key (0 ≤ i < 256) is
/// `(key[i / 8] >> (7 - i % 8)) & 1`: the most significant bit of byte 0 first. At depth `i` a 0 bit goes to the
/// left child and a 1 bit to the right child. The hash of a subtree is defined compactly:
///
/// - an empty subtree (no keys): 32 zero bytes, ``emptyHash``;
/// - a subtree holding exactly one (key, value): that leaf's hash, whatever the subtree's depth (no chain of
///   interior nodes down to depth 256): `leaf = SHA-256(0x00 ‖ key ‖ SHA-256(value))` (1 + 32 + 32 bytes hashed);
/// - a subtree holding two or more keys: `node = SHA-256(0x01 ‖ left ‖ right)` over its two children's hashes
///   (either child may be empty and then contributes 32 zero bytes).
///
/// The root is the hash of the whole tree: 32 zero bytes for the empty tree, the leaf hash for a one-entry tree.
/// Because two distinct keys differ in some bit below 256, a subtree with two or more keys always sits at a depth
/// below 256, so the definition is finite. The root depends only on the set of (key, value) pairs.
///
/// ## Storage and cost
///
/// The tree is a value type over immutable, shared nodes (a persistent binary trie in exactly the compact shape
/// above, each node caching its hash): copying a tree is O(1), and ``set(_:_:)`` rebuilds only the path to the
/// key, so an update, a lookup and ``proof(for:)`` cost O(path length) hashes and ``root`` is O(1). The path
/// length is about log2(n) for hashed keys and never more than 256. Removal collapses a subtree left with one
/// leaf back to that leaf, so the shape, and hence every hash, depends only on the set of entries, never on the
/// order of updates. Nothing depends on dictionary or set iteration order.
///
/// See ``SparseMerkleProof`` for the proof format and the verification algorithm.
public struct SparseMerkleTree: Sendable {
    /// The length of keys and of every hash: 32 bytes.
    public static let hashLength = 32
    /// The depth of the conceptual tree: the number of key bits.
    public static let depth = 256
    /// The hash of an empty subtree and the root of the empty tree: 32 zero bytes.
    public static let emptyHash: [UInt8] = [UInt8](repeating: 0, count: 32)
    /// The domain tag ``key(_:)`` prefixes to a state key before hashing it.
    public static let keyDomainTag: [UInt8] = Array("careledger/state-key/v1".utf8)

    /// What is wrong with a key, a proof, or a proof encoding.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public let reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// The empty tree.
    public init() {}

    // MARK: Hash functions

    /// The tree key for a caller's state key: `SHA-256("careledger/state-key/v1" ‖ bytes)`.
    public static func key(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: keyDomainTag)
        h.update(data: bytes)
        return Array(h.finalize())
    }

    /// `SHA-256(value)`: what a leaf commits to.
    public static func valueHash(_ value: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: value))
    }

    /// `SHA-256(0x00 ‖ key ‖ valueHash)`.
    public static func leafHash(key: [UInt8], valueHash: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: key)
        h.update(data: valueHash)
        return Array(h.finalize())
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// Bit `index` of a 32-byte key, most significant bit of byte 0 first. The caller guarantees
    /// `0 ≤ index < 256` and a 32-byte key.
    static func bit(_ key: [UInt8], _ index: Int) -> UInt8 {
        (key[index >> 3] >> UInt8(7 - (index & 7))) & 1
    }

    // MARK: Contents

    /// The number of keys held.
    public private(set) var count: Int = 0

    /// The value held for `key`, or nil (also nil for a key that is not 32 bytes).
    public subscript(key: [UInt8]) -> [UInt8]? {
        guard key.count == Self.hashLength else { return nil }
        var node = top
        var depth = 0
        while let n = node {
            switch n.content {
            case .leaf(let k, let value, _):
                return k == key ? value : nil
            case .branch(let left, let right):
                guard depth < Self.depth else { return nil }
                node = Self.bit(key, depth) == 0 ? left : right
                depth += 1
            }
        }
        return nil
    }

    /// Sets the value for a 32-byte `key`; nil removes the key (removing an absent key does nothing).
    public mutating func set(_ key: [UInt8], _ value: [UInt8]?) throws(SparseMerkleTree.Error) {
        guard key.count == Self.hashLength else {
            throw Error("key is \(key.count) bytes, must be \(Self.hashLength)")
        }
        let present = self[key] != nil
        if let value {
            let vh = Self.valueHash(value)
            let leaf = Node(leafKey: key, value: value, valueHash: vh)
            top = Self.insert(top, leaf: leaf, key: key, depth: 0)
            if !present { count += 1 }
        } else if present {
            top = Self.remove(top, key: key, depth: 0)
            count -= 1
        }
    }

    /// Applies many updates at once; nil removes. The tree is the one ``set(_:_:)`` gives applying them one by one
    /// in order (the last update of a key wins), but every node on the union of their paths is built and hashed
    /// once, not once per update: a block's updates share the upper levels of their paths.
    public mutating func set(many updates: [(key: [UInt8], value: [UInt8]?)]) throws(SparseMerkleTree.Error) {
        for u in updates where u.key.count != Self.hashLength {
            throw Error("key is \(u.key.count) bytes, must be \(Self.hashLength)")
        }
        // The last update of each key, in key order (which is tree order: bit 0 is the most significant).
        let order = updates.indices.sorted { a, b in
            let c = Self.compare(updates[a].key, updates[b].key)
            return c != 0 ? c < 0 : a < b
        }
        var batch: [Update] = []
        batch.reserveCapacity(order.count)
        for (n, i) in order.enumerated() {
            if n + 1 < order.count, updates[order[n + 1]].key == updates[i].key { continue }
            let u = updates[i]
            let present = self[u.key] != nil
            if let value = u.value {
                if !present { count += 1 }
                batch.append(Update(key: u.key, leaf: Node(leafKey: u.key, value: value, valueHash: Self.valueHash(value))))
            } else {
                if present { count -= 1 }
                batch.append(Update(key: u.key, leaf: nil))
            }
        }
        top = Self.update(top, batch[...], depth: 0)
    }

    /// One key's final update in a batch: its new leaf, or nil to remove it.
    private struct Update {
        let key: [UInt8]
        let leaf: Node?
    }

    /// Byte-wise comparison of two 32-byte keys: negative, zero or positive.
    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for i in 0..<min(a.count, b.count) where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return a.count - b.count
    }

    /// `node` at `depth` with the sorted, distinct-key `updates` (all under it) applied.
    private static func update(_ node: Node?, _ updates: ArraySlice<Update>, depth: Int) -> Node? {
        guard !updates.isEmpty else { return node }
        guard let node else { return build(updates.compactMap(\.leaf)[...], depth: depth) }
        switch node.content {
        case .leaf(let existing, _, _):
            // The subtree becomes the updates' leaves plus this one unless an update replaces or removes it.
            var leaves = updates.compactMap(\.leaf)
            if !updates.contains(where: { $0.key == existing }) {
                let at = leaves.firstIndex { compare($0.leafKey, existing) > 0 } ?? leaves.count
                leaves.insert(node, at: at)
            }
            return build(leaves[...], depth: depth)
        case .branch(let left, let right):
            guard depth < Self.depth else { return node }
            let split = updates.firstIndex { bit($0.key, depth) == 1 } ?? updates.endIndex
            let newLeft = update(left, updates[updates.startIndex..<split], depth: depth + 1)
            let newRight = update(right, updates[split..<updates.endIndex], depth: depth + 1)
            if newLeft === left, newRight === right { return node }
            return combine(newLeft, newRight)
        }
    }

    /// A subtree from its two children, keeping the invariant: a lone leaf (or nothing) moves up.
    private static func combine(_ left: Node?, _ right: Node?) -> Node? {
        switch (left, right) {
        case (nil, nil): return nil
        case (nil, let only?) where only.isLeaf: return only
        case (let only?, nil) where only.isLeaf: return only
        default: return Node(left: left, right: right)
        }
    }

    /// The subtree at `depth` holding exactly `leaves` (sorted, distinct keys sharing `depth` bits).
    private static func build(_ leaves: ArraySlice<Node>, depth: Int) -> Node? {
        guard leaves.count > 1 else { return leaves.first }
        guard depth < Self.depth else { return leaves.last }  // distinct keys differ before 256: not reached
        let split = leaves.firstIndex { bit($0.leafKey, depth) == 1 } ?? leaves.endIndex
        return Node(left: build(leaves[leaves.startIndex..<split], depth: depth + 1),
                    right: build(leaves[split..<leaves.endIndex], depth: depth + 1))
    }

    // MARK: Nodes

    /// An immutable node of the compact tree, shared between copies of the tree (updates copy the path only).
    /// Invariant: a branch has at least two leaves beneath it, so a subtree with one leaf is always that leaf
    /// itself and the structure (hence the root) depends only on the set of entries.
    final class Node: Sendable {
        enum Content: Sendable {
            case leaf(key: [UInt8], value: [UInt8], valueHash: [UInt8])
            /// Children at the next depth; nil is an empty subtree.
            case branch(left: Node?, right: Node?)
        }

        let content: Content
        /// `leafHash(key:valueHash:)` for a leaf, `nodeHash(left, right)` for a branch.
        let hash: [UInt8]

        var isLeaf: Bool { if case .leaf = content { true } else { false } }
        /// A leaf's key (empty for a branch).
        var leafKey: [UInt8] { if case .leaf(let key, _, _) = content { key } else { [] } }

        init(leafKey key: [UInt8], value: [UInt8], valueHash: [UInt8]) {
            content = .leaf(key: key, value: value, valueHash: valueHash)
            hash = SparseMerkleTree.leafHash(key: key, valueHash: valueHash)
        }

        init(left: Node?, right: Node?) {
            content = .branch(left: left, right: right)
            hash = SparseMerkleTree.nodeHash(SparseMerkleTree.hash(of: left), SparseMerkleTree.hash(of: right))
        }
    }

    private var top: Node?

    static func hash(of node: Node?) -> [UInt8] { node?.hash ?? emptyHash }

    /// `node` at `depth` with `leaf` (whose key is `key`) inserted or replacing the leaf of the same key.
    private static func insert(_ node: Node?, leaf: Node, key: [UInt8], depth: Int) -> Node {
        guard let node else { return leaf }
        switch node.content {
        case .leaf(let existing, _, _):
            return existing == key ? leaf : join(node, existing, leaf, key, depth: depth)
        case .branch(let left, let right):
            // A branch has two distinct keys beneath it sharing `depth` bits, so depth < 256; the guard only
            // keeps bit indexing in bounds.
            guard depth < Self.depth else { return node }
            if bit(key, depth) == 0 {
                return Node(left: insert(left, leaf: leaf, key: key, depth: depth + 1), right: right)
            } else {
                return Node(left: left, right: insert(right, leaf: leaf, key: key, depth: depth + 1))
            }
        }
    }

    /// The subtree at `depth` holding exactly the two leaves `a` and `b` (distinct keys sharing `depth` bits):
    /// a branch where they first differ, under a chain of branches with one empty child.
    private static func join(_ a: Node, _ aKey: [UInt8], _ b: Node, _ bKey: [UInt8], depth: Int) -> Node {
        var split = depth
        while split < Self.depth, bit(aKey, split) == bit(bKey, split) { split += 1 }
        guard split < Self.depth else { return b }  // equal keys: not reached (the caller compared them)
        var node = bit(aKey, split) == 0 ? Node(left: a, right: b) : Node(left: b, right: a)
        var d = split - 1
        while d >= depth {
            node = bit(aKey, d) == 0 ? Node(left: node, right: nil) : Node(left: nil, right: node)
            d -= 1
        }
        return node
    }

    /// `node` at `depth` without `key` (which the caller knows is present), collapsed back to compact form.
    private static func remove(_ node: Node?, key: [UInt8], depth: Int) -> Node? {
        guard let node else { return nil }
        switch node.content {
        case .leaf(let existing, _, _):
            return existing == key ? nil : node
        case .branch(let left, let right):
            guard depth < Self.depth else { return node }
            if bit(key, depth) == 0 {
                return compact(remove(left, key: key, depth: depth + 1), right)
            } else {
                return compact(left, remove(right, key: key, depth: depth + 1))
            }
        }
    }

    /// A branch over `left` and `right`, or, when that subtree holds fewer than two leaves, the lone leaf or nil.
    private static func compact(_ left: Node?, _ right: Node?) -> Node? {
        switch (left, right) {
        case (nil, nil): return nil
        case (let only?, nil), (nil, let only?):
            if case .leaf = only.content { return only }
            return Node(left: left, right: right)
        default:
            return Node(left: left, right: right)
        }
    }

    // MARK: Hashing and proofs

    /// The root hash (see the type's documentation).
    public var root: [UInt8] { Self.hash(of: top) }

    /// A proof that `key` holds its current value (``SparseMerkleProof/Terminal/leaf``) or holds nothing
    /// (``SparseMerkleProof/Terminal/empty`` or ``SparseMerkleProof/Terminal/otherLeaf(key:valueHash:)``),
    /// against the current ``root``.
    public func proof(for key: [UInt8]) throws(SparseMerkleTree.Error) -> SparseMerkleProof {
        guard key.count == Self.hashLength else {
            throw Error("key is \(key.count) bytes, must be \(Self.hashLength)")
        }
        var node = top
        var depth = 0
        var topDown: [[UInt8]] = []
        let terminal: SparseMerkleProof.Terminal
        while true {
            guard let n = node else {
                terminal = .empty
                break
            }
            if case .leaf(let k, _, let vh) = n.content {
                terminal = k == key ? .leaf : .otherLeaf(key: k, valueHash: vh)
                break
            }
            guard case .branch(let left, let right) = n.content, depth < Self.depth else {
                throw Error("internal: tree deeper than \(Self.depth)")
            }
            if Self.bit(key, depth) == 0 {
                topDown.append(Self.hash(of: right))
                node = left
            } else {
                topDown.append(Self.hash(of: left))
                node = right
            }
            depth += 1
        }
        return SparseMerkleProof(siblings: topDown.reversed(), terminal: terminal)
    }
}

/// A membership or non-membership proof for one key of a ``SparseMerkleTree``.
///
/// ## Contents
///
/// - ``siblings``: the hashes of the siblings along the key's path, **from the leaf level up to the root**.
///   With `k = siblings.count` (0 ≤ k ≤ 256), the path ends at depth `k`, and `siblings[i]` is the sibling at
///   depth `k - i` (the child, at depth `k - i`, of the path node at depth `k - 1 - i` that is off the path).
/// - ``terminal``: what the path ends at: ``Terminal/leaf`` (membership: the queried key's own leaf),
///   ``Terminal/empty`` (absence: an empty subtree), or ``Terminal/otherLeaf(key:valueHash:)`` (absence: a
///   subtree holding exactly one other key, given with its value hash).
///
/// ## Verification (``verify(root:key:value:)``)
///
/// 1. `root` and `key` are 32 bytes; `k ≤ 256`; every sibling is 32 bytes.
/// 2. If `k > 0`, `siblings[0]` is not 32 zero bytes (in the compact tree a node whose sibling is empty would
///    have been collapsed, so no honest proof has one; this makes proofs canonical).
/// 3. The starting hash `h`:
///    - value `V` given: the terminal must be `leaf`; `h = SHA-256(0x00 ‖ key ‖ SHA-256(V))`.
///    - value nil: the terminal must be `empty` (`h` = 32 zero bytes) or `otherLeaf(K', VH)` with `K'` and
///      `VH` 32 bytes, `K' ≠ key`, and the first `k` bits of `K'` equal to those of `key`;
///      `h = SHA-256(0x00 ‖ K' ‖ VH)`.
/// 4. For `i` in `0..<k`, with `d = k - 1 - i`: if bit `d` of `key` is 0, `h = SHA-256(0x01 ‖ h ‖ siblings[i])`,
///    otherwise `h = SHA-256(0x01 ‖ siblings[i] ‖ h)`.
/// 5. `h` must equal `root`.
///
/// ## Canonical encoding (``encoded()``, ``init(encoded:)``)
///
/// ```
/// offset  size    field
/// 0       1       terminal tag: 0x00 leaf (membership), 0x01 empty, 0x02 other leaf
/// 1       2       k, the sibling count, big-endian unsigned, 0...256
/// 3       32·k    siblings[0], siblings[1], ... (leaf level first)
/// 3+32k   64      tag 0x02 only: the other leaf's key (32) then its value hash (32)
/// ```
///
/// The total length is exactly `3 + 32k` (tags 0x00, 0x01) or `3 + 32k + 64` (tag 0x02). Decoding rejects an
/// unknown tag, `k > 256`, truncation, and trailing bytes; so decoding then encoding gives back the same bytes.
public struct SparseMerkleProof: Sendable, Hashable {
    /// What the key's path ends at.
    public enum Terminal: Sendable, Hashable {
        /// Membership: the queried key's own leaf.
        case leaf
        /// Absence: an empty subtree.
        case empty
        /// Absence: a subtree holding exactly one other key (its key and the hash of its value).
        case otherLeaf(key: [UInt8], valueHash: [UInt8])
    }

    /// Sibling hashes from the leaf level up to the root (see the type's documentation).
    public let siblings: [[UInt8]]
    public let terminal: Terminal

    /// Assembles a proof without checking it; ``verify(root:key:value:)`` checks everything.
    public init(siblings: [[UInt8]], terminal: Terminal) {
        self.siblings = siblings
        self.terminal = terminal
    }

    /// Whether this is a membership proof (``Terminal/leaf``).
    public var isMembership: Bool { terminal == .leaf }

    private typealias Tree = SparseMerkleTree
    private typealias Error = SparseMerkleTree.Error

    /// Checks the proof against `root` for `key`: with a value, that `key` holds exactly `value`; with nil, that
    /// `key` holds nothing. Throws an error saying what failed.
    public func verify(root: [UInt8], key: [UInt8], value: [UInt8]?) throws(SparseMerkleTree.Error) {
        let n = Tree.hashLength
        guard root.count == n else { throw Error("root is \(root.count) bytes, must be \(n)") }
        guard key.count == n else { throw Error("key is \(key.count) bytes, must be \(n)") }
        let k = siblings.count
        guard k <= Tree.depth else { throw Error("proof has \(k) siblings, at most \(Tree.depth) allowed") }
        for (i, s) in siblings.enumerated() where s.count != n {
            throw Error("sibling \(i) is \(s.count) bytes, must be \(n)")
        }
        if let deepest = siblings.first, deepest == Tree.emptyHash {
            throw Error("the deepest sibling is empty: not a compact-tree proof")
        }

        var h: [UInt8]
        switch (terminal, value) {
        case (.leaf, let value?):
            h = Tree.leafHash(key: key, valueHash: Tree.valueHash(value))
        case (.leaf, nil):
            throw Error("a membership proof cannot prove absence")
        case (.empty, _?), (.otherLeaf, _?):
            throw Error("a non-membership proof cannot prove membership")
        case (.empty, nil):
            h = Tree.emptyHash
        case (.otherLeaf(let otherKey, let otherValueHash), nil):
            guard otherKey.count == n else { throw Error("other leaf's key is \(otherKey.count) bytes, must be \(n)") }
            guard otherValueHash.count == n else {
                throw Error("other leaf's value hash is \(otherValueHash.count) bytes, must be \(n)")
            }
            guard otherKey != key else { throw Error("other leaf's key is the queried key") }
            for d in 0..<k where Tree.bit(otherKey, d) != Tree.bit(key, d) {
                throw Error("other leaf's key differs from the queried key at bit \(d), inside the \(k)-bit path")
            }
            h = Tree.leafHash(key: otherKey, valueHash: otherValueHash)
        }

        for (i, s) in siblings.enumerated() {
            let d = k - 1 - i
            h = Tree.bit(key, d) == 0 ? Tree.nodeHash(h, s) : Tree.nodeHash(s, h)
        }
        guard h == root else { throw Error("proof does not lead to the root") }
    }

    // MARK: Encoding

    private static let tagLeaf: UInt8 = 0x00
    private static let tagEmpty: UInt8 = 0x01
    private static let tagOtherLeaf: UInt8 = 0x02

    /// The canonical encoding (see the type's documentation). A proof whose hashes are not 32 bytes or which has
    /// more than 256 siblings does not verify and has no decodable encoding; its bytes are still produced
    /// (count truncated to 16 bits, hashes as given) but ``init(encoded:)`` will not accept them back.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(3 + 32 * siblings.count + 64)
        switch terminal {
        case .leaf: out.append(Self.tagLeaf)
        case .empty: out.append(Self.tagEmpty)
        case .otherLeaf: out.append(Self.tagOtherLeaf)
        }
        let k = UInt16(truncatingIfNeeded: siblings.count)
        out.append(UInt8(k >> 8))
        out.append(UInt8(k & 0xff))
        for s in siblings { out.append(contentsOf: s) }
        if case .otherLeaf(let otherKey, let otherValueHash) = terminal {
            out.append(contentsOf: otherKey)
            out.append(contentsOf: otherValueHash)
        }
        return out
    }

    /// Decodes the canonical encoding strictly.
    public init(encoded bytes: [UInt8]) throws(SparseMerkleTree.Error) {
        let n = SparseMerkleTree.hashLength
        guard bytes.count >= 3 else { throw Error("proof encoding is \(bytes.count) bytes, shorter than its 3-byte header") }
        let tag = bytes[0]
        guard tag == Self.tagLeaf || tag == Self.tagEmpty || tag == Self.tagOtherLeaf else {
            throw Error("unknown proof terminal tag \(tag)")
        }
        let k = Int(bytes[1]) << 8 | Int(bytes[2])
        guard k <= SparseMerkleTree.depth else {
            throw Error("proof encoding has \(k) siblings, at most \(SparseMerkleTree.depth) allowed")
        }
        let expected = 3 + n * k + (tag == Self.tagOtherLeaf ? 2 * n : 0)
        guard bytes.count >= expected else {
            throw Error("proof encoding is truncated: \(bytes.count) bytes, \(expected) expected")
        }
        guard bytes.count == expected else {
            throw Error("proof encoding has \(bytes.count - expected) trailing bytes")
        }
        var siblings: [[UInt8]] = []
        siblings.reserveCapacity(k)
        var offset = 3
        for _ in 0..<k {
            siblings.append(Array(bytes[offset..<offset + n]))
            offset += n
        }
        let terminal: Terminal
        switch tag {
        case Self.tagLeaf: terminal = .leaf
        case Self.tagEmpty: terminal = .empty
        default:
            terminal = .otherLeaf(key: Array(bytes[offset..<offset + n]), valueHash: Array(bytes[offset + n..<offset + 2 * n]))
        }
        self.init(siblings: siblings, terminal: terminal)
    }
}
