import FHIRCore
import Logging
import NIOCore
import PostgresNIO

/// A unit's search-index rows sent to PostgreSQL with `COPY … FROM STDIN` (text format) instead of bound arrays.
///
/// For a large unit (an import's 2,000 resources carry about 21,000 rows) COPY costs the server less than
/// `INSERT … SELECT … FROM UNNEST` (no arrays to receive, no function scan and tuple store, no plan, and the heap
/// is filled by multi-row inserts), and the client writes text instead of encoding ten binary arrays. It needs a
/// transaction around it, so small units (an AuditEvent) keep the one-statement insert.
struct SearchIndexCopy {
    /// Units with at least this many index rows are copied.
    static let minimumRows = 2_000
    static let columns = ["patient_key", "resource_type", "id", "param", "value", "system", "value_to", "display", "low", "high"]
    /// Bytes per CopyData message.
    static let chunkBytes = 1 << 20

    let records: [(patientKey: String, key: RecordKey, index: [IndexEntry])]

    var rowCount: Int { records.reduce(0) { $0 + $1.index.count } }

    /// Sends every row on `connection`, which is inside the unit's transaction.
    func send(on connection: PostgresConnection, logger: Logger) async throws {
        // PostgresNIO writes the table name inside double quotes (`COPY "name"`), so the schema-qualified name is
        // given with the quotes between its parts: `"careledger"."search_index"`.
        try await connection.copyFrom(table: #"careledger"."search_index"#, columns: Self.columns, logger: logger) { writer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(Self.chunkBytes + 4096)
            for (patientKey, key, index) in records {
                for e in index {
                    Self.append(row: patientKey, key, e, to: &buffer)
                    if buffer.readableBytes >= Self.chunkBytes {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    /// One row in COPY's text format: tab-separated, newline-terminated, `\N` for NULL.
    static func append(row patientKey: String, _ key: RecordKey, _ e: IndexEntry, to out: inout ByteBuffer) {
        for (n, text) in [patientKey, key.type, key.id, e.param, e.value, e.system, e.valueTo, e.text].enumerated() {
            if n > 0 { out.writeInteger(UInt8(ascii: "\t")) }
            appendEscaped(text, to: &out)
        }
        for number in [e.low, e.high] {
            out.writeInteger(UInt8(ascii: "\t"))
            appendNumber(number, to: &out)
        }
        out.writeInteger(UInt8(ascii: "\n"))
    }

    /// A text field with COPY's escapes: backslash, tab, newline and carriage return (other bytes, UTF-8 included,
    /// are sent as they are).
    static func appendEscaped(_ text: String, to out: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() {
                let escape: UInt8
                switch b {
                case UInt8(ascii: "\\"): escape = UInt8(ascii: "\\")
                case UInt8(ascii: "\t"): escape = UInt8(ascii: "t")
                case UInt8(ascii: "\n"): escape = UInt8(ascii: "n")
                case UInt8(ascii: "\r"): escape = UInt8(ascii: "r")
                default: continue
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<i]))
                out.writeInteger(UInt8(ascii: "\\"))
                out.writeInteger(escape)
                start = i + 1
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start...]))
        }
    }

    /// A `double precision` field: Swift's shortest round-trip spelling (which PostgreSQL reads back to the same
    /// value), `Infinity`/`-Infinity` for unbounded ends, `\N` for none (NaN or absent, as the UNNEST insert's
    /// `NULLIF(…, 'NaN')`).
    static func appendNumber(_ value: Double?, to out: inout ByteBuffer) {
        guard let value, !value.isNaN else {
            out.writeString("\\N")
            return
        }
        if value.isInfinite {
            out.writeString(value < 0 ? "-Infinity" : "Infinity")
        } else {
            out.writeString(value.description)
        }
    }
}
