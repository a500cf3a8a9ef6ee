import Testing
@testable import FHIRCore

/// Golden vectors for the canonical form and the record commitment. The expected values were computed
/// independently with Python's hashlib and a hand-written JCS escaper (see docs/canonical-form.md); they
/// must never change for `careledger-canonical/1`.
@Suite("Canonical form and record commitment golden vectors")
struct CommitmentTests {
    static let saltCounting: [UInt8] = Array(0..<32)
    static let saltFF = [UInt8](repeating: 0xFF, count: 32)

    /// The canonical bytes of a JSON text, checking that the tape writer and the tree writer agree.
    static func canonical(_ json: String) throws -> [UInt8] {
        let tape = try JSONReader().readTape(Array(json.utf8))
        let fromTree = try CanonicalForm.bytes(of: Resource(tape.value()))
        let fromTape = try CanonicalForm.bytes(of: tape)
        #expect(fromTape == fromTree, "the tape and the tree give different canonical bytes")
        return fromTape
    }

    @Test func tagIsTwentyBytes() {
        #expect(Array(RecordCommitment.domainTag.utf8).count == 20)
    }

    @Test func minimalPatientVector() throws {
        let resource = try JSONReader().read(Array(#"  { "resourceType" : "Patient" }  "#.utf8))
        let canonical = try Self.canonical(#"  { "resourceType" : "Patient" }  "#)
        #expect(String(decoding: canonical, as: UTF8.self) == #"{"resourceType":"Patient"}"#)
        let hash = CanonicalForm.sha256(canonical)
        #expect(Hex.encode(hash) == "b6cd92f25733dc6efed4ca9541f59545c63a39c6310d3b873363f970c6f7e0c3")
        let commitment = try RecordCommitment(resource: resource, salt: Self.saltCounting)
        #expect(Hex.encode(commitment.value) == "34be15dee022cfeea901632dcad01e04783ec508d5290edb6319d559913bcb33")
        #expect(commitment.verifies(canonicalBytes: canonical))
    }

    @Test func orderingPrecisionAndEscapingVector() throws {
        let input = """
            {
              "resourceType": "Patient",
              "name": [ { "text": "tab\\there \\"q\\" \\\\ \\u0001 \\/", "given": ["Zo\\u00eb", null] } ],
              "birthDate": "1970-01-01",
              "_birthDate": { "extension": [ { "valueDecimal": 4.50, "url": "http://example.org/x" } ] }
            }
            """
        let resource = try JSONReader().read(Array(input.utf8))
        let canonical = try Self.canonical(input)
        let expected = #"{"_birthDate":{"extension":[{"url":"http://example.org/x","valueDecimal":4.50}]},"birthDate":"1970-01-01","name":[{"given":["Zoë",null],"text":"tab\there \"q\" \\ \u0001 /"}],"resourceType":"Patient"}"#
        #expect(String(decoding: canonical, as: UTF8.self) == expected)
        #expect(Hex.encode(CanonicalForm.sha256(canonical)) == "ef3bcc3bc001b67c87732bea1860a72f9b7391ee934d9a00a7add020e7f0c238")
        let commitment = try RecordCommitment(resource: resource, salt: Self.saltFF)
        #expect(Hex.encode(commitment.value) == "9d52f78756448c3b46563a31f7e105f48a0cc3a60e5eff21214461885b82307e")
    }

    @Test func membersSortByUTF16CodeUnitsNotCodePoints() throws {
        // U+1F600 is a surrogate pair (D83D DE00) in UTF-16 and sorts before U+E000, unlike in UTF-8.
        let canonical = String(decoding: try Self.canonical(#"{"\ue000":1,"\ud83d\ude00":2,"a":3,"B":4,"resourceType":"Basic"}"#), as: UTF8.self)
        #expect(canonical == "{\"B\":4,\"a\":3,\"resourceType\":\"Basic\",\"😀\":2,\"\u{E000}\":1}")
    }

    @Test func saltChangesTheCommitmentButNotTheHash() throws {
        let resource = try JSONReader().read(Array(#"{"resourceType":"Patient","id":"x"}"#.utf8))
        let a = try RecordCommitment(resource: resource, salt: Self.saltCounting)
        let b = try RecordCommitment(resource: resource, salt: Self.saltFF)
        #expect(a.canonicalHash == b.canonicalHash)
        #expect(a.value != b.value)
        var rng = SystemRandomNumberGenerator()
        let s1 = RecordCommitment.freshSalt(using: &rng)
        let s2 = RecordCommitment.freshSalt(using: &rng)
        #expect(s1.count == 32 && s1 != s2)
    }

    @Test func refusesWrongSaltLength() {
        #expect(throws: RecordCommitment.Error.self) {
            try RecordCommitment(canonicalHash: [UInt8](repeating: 0, count: 32), salt: [1, 2, 3])
        }
    }

    @Test func narrativeEntersAsCanonicalXML() throws {
        let ca = String(decoding: try Self.canonical(#"{"resourceType":"Basic","text":{"status":"generated","div":"<div xmlns='http://www.w3.org/1999/xhtml'><p class='x'>A&#160;&amp;<br/></p></div>"}}"#), as: UTF8.self)
        let cb = String(decoding: try Self.canonical(#"{"resourceType":"Basic","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">A\u00a0&amp;<br></br></p></div>"}}"#), as: UTF8.self)
        #expect(ca == cb)
        #expect(ca == #"{"resourceType":"Basic","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">A\#u{00A0}&amp;<br></br></p></div>","status":"generated"}}"#)
        // A div elsewhere than in a Narrative is an ordinary string.
        #expect(String(decoding: try Self.canonical(#"{"resourceType":"Basic","note":{"div":"<b/>"}}"#), as: UTF8.self) == #"{"note":{"div":"<b/>"},"resourceType":"Basic"}"#)
        // A narrative that is not XML cannot be canonicalized.
        let unclosed = Array(#"{"resourceType":"Basic","text":{"status":"generated","div":"<div>unclosed"}}"#.utf8)
        let d = try JSONReader().read(unclosed)
        let error = try #require(throws: FHIRError.self) { try CanonicalForm.bytes(of: d) }
        #expect(error.code == .invalidNarrative)
        let tapeError = try #require(throws: FHIRError.self) { try CanonicalForm.bytes(of: JSONReader().readTape(unclosed)) }
        #expect(tapeError == error)
    }
}
