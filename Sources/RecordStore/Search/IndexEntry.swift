/// One search-index row of a resource (docs/store.md, "Search"). `param` names the search parameter (a reference
/// parameter's identifiers are rows of `param:identifier`); what the other columns hold depends on its type:
///
/// | type | `value` | `system` | `text` (column `display`) | `valueTo` | `low`…`high` |
/// |---|---|---|---|---|---|
/// | string | lowercased, accents folded | | as written | | |
/// | token | code, identifier value, `true`/`false` | its system | display or `text`, lowercased | | |
/// | reference | `Type/id` as stored (or the URL) | | | | |
/// | date | lower bound as written | | | upper bound as written | first…last millisecond |
/// | number | lexeme | | | | the value |
/// | quantity | code (else unit) | its system | unit | | value (a Range: low…high) |
/// | uri | the URI | | | | |
public struct IndexEntry: Hashable, Sendable {
    public var param: String
    public var value: String
    public var system: String
    public var valueTo: String
    public var text: String
    public var low: Double?
    public var high: Double?

    public init(param: String, value: String, system: String = "", valueTo: String = "", text: String = "",
                low: Double? = nil, high: Double? = nil) {
        self.param = param
        self.value = value
        self.system = system
        self.valueTo = valueTo
        self.text = text
        self.low = low
        self.high = high
    }
}
