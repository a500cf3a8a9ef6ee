import FHIRCore
import Foundation

/// The search-index rows of a unit as the columns both stores insert: one array per column for PostgreSQL's
/// `UNNEST` insert, one bound statement per row for SQLite.
struct SearchIndexRows {
    var patientKeys: [String] = [], types: [String] = [], ids: [String] = [], params: [String] = [], values: [String] = []
    var systems: [String] = [], valuesTo: [String] = [], displays: [String] = []
    /// `low`/`high`, NaN for none (made NULL by the insert): PostgresNIO binds no arrays of optionals.
    var lows: [Double] = [], highs: [Double] = []

    init(_ records: [(patientKey: String, key: RecordKey, index: [IndexEntry])]) {
        let n = records.reduce(0) { $0 + $1.index.count }
        for column in [\SearchIndexRows.patientKeys, \.types, \.ids, \.params, \.values, \.systems, \.valuesTo, \.displays] {
            self[keyPath: column].reserveCapacity(n)
        }
        lows.reserveCapacity(n); highs.reserveCapacity(n)
        for (patientKey, key, index) in records {
            for e in index {
                patientKeys.append(patientKey); types.append(key.type); ids.append(key.id); params.append(e.param); values.append(e.value)
                systems.append(e.system); valuesTo.append(e.valueTo); displays.append(e.text)
                lows.append(e.low ?? .nan); highs.append(e.high ?? .nan)
            }
        }
    }

    static let sqliteInsert = """
        INSERT INTO search_index (patient_key, resource_type, id, param, value, system, value_to, display, low, high)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func sqliteValues(_ patient: SQLiteValue, _ type: SQLiteValue, _ id: SQLiteValue, _ e: IndexEntry) -> [SQLiteValue] {
        [patient, type, id, .text(e.param), .text(e.value), .text(e.system), .text(e.valueTo), .text(e.text),
         e.low.map(SQLiteValue.real) ?? .null, e.high.map(SQLiteValue.real) ?? .null]
    }

    /// The index rows of a stored resource, read again from its canonical JSON (the reindex migration). The
    /// canonical form has its references rewritten already.
    static func entries(canonical: [UInt8]) -> [IndexEntry] {
        guard let tape = try? JSONReader().readTape(canonical) else { return [] }
        return SearchIndex.entries(for: tape)
    }
}
