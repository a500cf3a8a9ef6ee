public import Foundation

/// The logical id of a stored AuditEvent: a UUID in the version 7 layout (RFC 9562), whose first 48 bits are the
/// milliseconds of `recorded` since 1970, then random bits.
///
/// Why not a random UUID: AuditEvents are the store's most frequent writes (one per partner access), and the
/// store keys its records, versions and search index by id. Random ids land each insert on a random page of those
/// B-trees, so every commit dirties (and rereads) pages all over them; ids that grow with time append at their
/// ends. The id stays unique (74 random bits per millisecond) and says nothing the AuditEvent does not (`recorded`).
public enum AuditEventID {
    /// A new id for an AuditEvent recorded at `recorded`, e.g. `018cc251-f400-7a3e-9b1c-4d5e6f708192`.
    public static func make(recorded: Date) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(recorded: recorded, random: (rng.next(), rng.next()))
    }

    /// The id for `recorded` with the given random bits (only 74 of the 128 are used).
    static func make(recorded: Date, random: (UInt64, UInt64)) -> String {
        let seconds = max(0, recorded.timeIntervalSince1970)
        let millis = UInt64(min(seconds * 1000, Double(UInt64(1) << 48 - 1)))
        let high = (millis << 16) | 0x7000 | (random.0 & 0x0fff)
        let low = (random.1 & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        let hex = hex16(high) + hex16(low)
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    private static func hex16(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
