/// A growable stack in manually managed memory: no copy-on-write or uniqueness checks, and elements can be
/// moved out without leaving placeholders behind (indices are still checked). The owner must call ``free()``
/// exactly once.
struct UnsafeStack<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 4)
        base = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity)
    }

    /// Destroys the live elements and releases the memory.
    mutating func free() {
        base.deinitialize(count: count)
        base.deallocate()
        count = 0
        capacity = 0
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    @inline(__always)
    mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        count -= 1
        return (base + count).move()
    }

    /// The element at `i` (which must be below `count`), in place.
    @inline(__always)
    subscript(i: Int) -> Element {
        unsafeAddress {
            precondition(i >= 0 && i < count, "UnsafeStack index out of range")
            return UnsafePointer(base + i)
        }
        nonmutating unsafeMutableAddress {
            precondition(i >= 0 && i < count, "UnsafeStack index out of range")
            return base + i
        }
    }

    var last: Element? { count > 0 ? base[count - 1] : nil }

    /// Moves out the elements from `start` to the top, in order (each is destroyed after `body`), and shrinks
    /// the stack to `start`.
    @inline(__always)
    mutating func moveOut(from start: Int, _ body: (Element) -> Void) {
        for i in start..<count { body((base + i).move()) }
        count = start
    }
}
