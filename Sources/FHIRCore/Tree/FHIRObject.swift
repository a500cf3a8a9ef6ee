/// A JSON object whose members keep the order they were read in.
///
/// Objects in FHIR resources are small (a few dozen members at most), so lookup is a linear scan over a
/// contiguous array: faster than hashing at this size, and it keeps source order for lossless output.
/// Equality is JSON equality: the same names with equal values, in any order.
public struct FHIRObject: Sendable, Equatable, RandomAccessCollection {
    /// One name/value pair.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var value: FHIRValue

        public init(name: String, value: FHIRValue) {
            self.name = name
            self.value = value
        }
    }

    /// The members in source order. Names are unique (the readers reject duplicates).
    public var members: [Member]

    public init() {
        members = []
    }

    public init(members: [Member]) {
        self.members = members
    }

    /// Builds an object from name/value pairs, in the given order.
    public init(_ pairs: KeyValuePairs<String, FHIRValue>) {
        members = pairs.map { Member(name: $0.key, value: $0.value) }
    }

    public var startIndex: Int { members.startIndex }
    public var endIndex: Int { members.endIndex }
    public subscript(position: Int) -> Member { members[position] }

    /// The value of the member `name`; setting nil removes it, setting a new name appends it.
    public subscript(name: String) -> FHIRValue? {
        get {
            for m in members where m.name == name { return m.value }
            return nil
        }
        set {
            if let i = members.firstIndex(where: { $0.name == name }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(Member(name: name, value: newValue))
            }
        }
    }

    /// The member names in source order.
    public var names: [String] { members.map(\.name) }

    public static func == (lhs: FHIRObject, rhs: FHIRObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        if lhs.members.elementsEqual(rhs.members) { return true }
        for m in lhs.members {
            guard let other = rhs[m.name], other == m.value else { return false }
        }
        return true
    }
}
