import FHIRCore
import Services
import Testing

/// `_summary=true|text|data` and `_elements` on resource trees: the rules the gateway tests cannot all reach with
/// Synthea data (mandatory elements that are not summary, primitive extension twins, resources inside a Bundle).
@Suite("Resource subsets (_summary=true|text|data, _elements)")
struct ResourceSubsetTests {
    static func object(_ json: String) throws -> FHIRObject {
        try #require(try JSONReader().readValue(Array(json.utf8)).objectValue)
    }

    static func tags(_ o: FHIRObject) -> [String] {
        (o["meta"]?.objectValue?["tag"]?.arrayValue ?? []).compactMap { $0.objectValue?["code"]?.stringValue }
    }

    @Test func mandatoryElementsStayThoughNotSummary() throws {
        // AuditEvent.agent and .source are min 1 without isSummary; inside them who, requestor and observer are kept,
        // type, altId, policy and the source's type are not.
        let event = try Self.object("""
            {"resourceType":"AuditEvent","id":"a1","text":{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">x</div>"},
             "type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","period":{"start":"2026-01-01"},
             "agent":[{"type":{"text":"client"},"who":{"display":"partner"},"altId":"k","requestor":true,"policy":["urn:p"]}],
             "source":{"observer":{"display":"gw"},"type":[{"code":"4"}]},
             "entity":[{"what":{"reference":"Patient/p"}}]}
            """)
        let summary = ResourceSubset.summary.apply(to: event)
        #expect(summary.names.sorted() == ["agent", "id", "meta", "recorded", "resourceType", "source", "type"])
        let agent = try #require(summary["agent"]?.arrayValue?.first?.objectValue)
        #expect(agent.names.sorted() == ["requestor", "who"])
        #expect(summary["source"]?.objectValue?.names == ["observer"])
        #expect(Self.tags(summary) == ["SUBSETTED"])
    }

    @Test func twinsExtensionsAndContainedAreDropped() throws {
        let patient = try Self.object("""
            {"resourceType":"Patient","id":"p","meta":{"tag":[{"code":"keep"}]},"extension":[{"url":"u","valueString":"x"}],
             "contained":[{"resourceType":"Organization","id":"o"}],"birthDate":"1970-01-01",
             "_birthDate":{"extension":[{"url":"t","valueTime":"10:00:00"}]},"maritalStatus":{"text":"M"},
             "name":[{"family":"F","extension":[{"url":"u","valueString":"y"}],"given":["G"],"_given":[{"id":"g"}]}]}
            """)
        let summary = ResourceSubset.summary.apply(to: patient)
        #expect(summary.names.sorted() == ["birthDate", "id", "meta", "name", "resourceType"])
        #expect(summary["name"]?.arrayValue?.first?.objectValue?.names.sorted() == ["family", "given"])
        #expect(Self.tags(summary) == ["keep", "SUBSETTED"], "existing tags kept, SUBSETTED added once")
        #expect(Self.tags(ResourceSubset.summary.apply(to: summary)) == ["keep", "SUBSETTED"])
    }

    @Test func aBundleSummarizesTheResourcesItHolds() throws {
        let bundle = try Self.object("""
            {"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1",
             "resource":{"resourceType":"Patient","id":"p","text":{"status":"empty","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">-</div>"},"gender":"other","photo":[{"url":"http://x"}]}}]}
            """)
        let summary = ResourceSubset.summary.apply(to: bundle)
        let entry = try #require(summary["entry"]?.arrayValue?.first?.objectValue)
        #expect(entry["fullUrl"]?.stringValue == "urn:uuid:1")
        #expect(entry["resource"]?.objectValue?.names.sorted() == ["gender", "id", "resourceType"])
    }

    @Test func elementsKeepTheNamedAndTheMandatory() throws {
        let observation = try Self.object("""
            {"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"category":[{"text":"c"}],
             "valueString":"v","_valueString":{"id":"t"},"note":[{"text":"n"}]}
            """)
        let subset = ResourceSubset.elements(["valueString", "note"]).apply(to: observation)
        // status and code are mandatory (min 1); the twin of a named element comes with it.
        #expect(subset.names.sorted() == ["_valueString", "code", "id", "meta", "note", "resourceType", "status", "valueString"])
        #expect(Self.tags(subset) == ["SUBSETTED"])
        // A choice element by its base name, with or without [x]: `value` keeps valueString and its twin.
        for name in ["value", "value[x]"] {
            let byBase = ResourceSubset.elements([name]).apply(to: observation)
            #expect(byBase.names.sorted() == ["_valueString", "code", "id", "meta", "resourceType", "status", "valueString"], "\(name)")
        }
        // A prefix of a member's name that is no element's base name keeps nothing.
        #expect(!ResourceSubset.elements(["val"]).apply(to: observation).names.contains("valueString"))
    }

    @Test func textKeepsTheNarrativeAndTheMandatoryDataRemovesOnlyTheNarrative() throws {
        let observation = try Self.object("""
            {"resourceType":"Observation","id":"o","meta":{"versionId":"2"},"text":{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">x</div>"},
             "contained":[{"resourceType":"Patient","id":"p"}],"extension":[{"url":"u","valueString":"e"}],"status":"final",
             "code":{"text":"x"},"category":[{"text":"c"}],"valueString":"v"}
            """)
        // text: the narrative, id, meta and the mandatory top-level elements (Observation.status and .code).
        let text = ResourceSubset.text.apply(to: observation)
        #expect(text.names.sorted() == ["code", "id", "meta", "resourceType", "status", "text"])
        #expect(text["meta"]?.objectValue?["versionId"]?.stringValue == "2")
        #expect(Self.tags(text) == ["SUBSETTED"])
        // data: everything but the narrative, contained resources and extensions included.
        let data = ResourceSubset.data.apply(to: observation)
        #expect(data.names == observation.names.filter { $0 != "text" })
        #expect(data["contained"] == observation["contained"] && data["extension"] == observation["extension"])
        #expect(Self.tags(data) == ["SUBSETTED"])
    }

    @Test func summaryValuesAndWhatTheyAsk() throws {
        #expect(try ResourceSubset.Summary(parameter: "true").subset == .summary)
        #expect(try ResourceSubset.Summary(parameter: "text").subset == .text)
        #expect(try ResourceSubset.Summary(parameter: "data").subset == .data)
        #expect(try ResourceSubset.Summary(parameter: "false").subset == nil)
        #expect(try ResourceSubset.Summary(parameter: "count").subset == nil)
        for bad in ["TRUE", "", "short", "count "] {
            #expect(throws: ServiceError.self, "\(bad)") { try ResourceSubset.Summary(parameter: bad) }
        }
        // _elements is the narrower ask and wins over _summary.
        #expect(ResourceSubset.asked(summary: .true, elements: " status , code,") == .elements(["status", "code"]))
        #expect(ResourceSubset.asked(summary: .data, elements: nil) == .data)
        #expect(ResourceSubset.asked(summary: nil, elements: nil) == nil)
    }
}
