/// A map for state that only grows and is copied once per block: the entries written recently sit in a small
/// dictionary over a large shared one. Copying the map (a block's scratch state, the mempool's view) and then
/// writing copies only the recent part, where a plain dictionary would copy every entry on the first write after
/// each copy. The recent part is merged into the shared one once it holds an eighth as many entries, so a write
/// costs amortized O(1) copies. Reads, `count` and `values` see both parts; nothing depends on iteration order.
public struct LayeredMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private var shared: [Key: Value] = [:]
    private var recent: [Key: Value] = [:]
    /// The number of keys.
    public private(set) var count = 0

    public init() {}

    public subscript(key: Key) -> Value? {
        get { recent[key] ?? shared[key] }
        set {
            guard let newValue else {
                if recent.removeValue(forKey: key) != nil || shared[key] != nil { count -= 1 }
                if shared[key] != nil { shared.removeValue(forKey: key) }
                return
            }
            if recent.updateValue(newValue, forKey: key) == nil, shared[key] == nil { count += 1 }
            if recent.count > Swift.max(1_024, shared.count / 8) {
                shared.merge(recent) { $1 }
                recent = [:]
            }
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Every value, in no particular order.
    public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for (key, value) in shared where recent[key] == nil { out.append(value) }
        out.append(contentsOf: recent.values)
        return out
    }
}
