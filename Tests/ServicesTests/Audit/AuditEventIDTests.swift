import FHIRCore
import Foundation
import Services
import Testing

/// AuditEvent ids grow with `recorded` (so the store appends them to its B-trees), are unique, are valid FHIR ids
/// and carry the UUID version 7 layout.
@Suite("Audit trail: time-ordered AuditEvent ids")
struct AuditEventIDTests {
    @Test func idsGrowWithTheRecordedTimeAndAreUnique() {
        let start = Date(timeIntervalSince1970: 1_796_600_000.000)
        var previous = ""
        var seen = Set<String>()
        for step in 0..<200 {
            // A later instant every fourth id (125 ms apart, exact in binary); ids within one millisecond only
            // need to be unique.
            let id = AuditEventID.make(recorded: start.addingTimeInterval(Double(step / 4) * 0.125))
            if step % 4 == 0 { #expect(id > previous, "\(id) after \(previous)") }
            previous = max(previous, id)
            seen.insert(id)
        }
        #expect(seen.count == 200)
    }

    @Test func anIdIsAVersion7UUIDAndAValidFHIRId() throws {
        let id = AuditEventID.make(recorded: Date(timeIntervalSince1970: 1_704_067_200.125))
        let parts = id.split(separator: "-").map(String.init)
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        // 1,704,067,200,125 ms is 0x018cc251f47d: the first 48 bits.
        #expect(parts[0] + parts[1] == "018cc251f47d")
        #expect(parts[2].first == "7")
        #expect(["8", "9", "a", "b"].contains(parts[3].first))
        #expect(id.allSatisfy { $0.isHexDigit || $0 == "-" } && id == id.lowercased())
        let event = try AuditEventBuilder(observer: "gateway A").event(
            AuditedAccess(interaction: .read, clientId: "c", purpose: "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT", outcome: .success),
            recorded: Date(timeIntervalSince1970: 1_704_067_200.125))
        let stored = try #require(event.object["id"]?.stringValue)
        #expect(stored.hasPrefix("018cc251-f47d-7"))
        #expect(Validator().validate(event).isEmpty)
    }
}
