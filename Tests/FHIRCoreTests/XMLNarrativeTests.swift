import Testing
@testable import FHIRCore

@Suite("XHTML narrative canonicalization")
struct XMLNarrativeTests {
    @Test func sameDivInXMLAndJSONSpellingsCanonicalizesIdentically() throws {
        let xmlSpelling = "<div xmlns='http://www.w3.org/1999/xhtml'><p class='a' id=\"x\">A&#160;B<br/>&gt; 1</p><!-- note --></div>"
        let jsonSpelling = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p id=\"x\" class=\"a\">A\u{A0}B<br></br>> 1</p></div>"
        let a = try XHTML.canonicalize(xmlSpelling)
        let b = try XHTML.canonicalize(jsonSpelling)
        #expect(a == b)
        #expect(a == "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"a\" id=\"x\">A\u{A0}B<br></br>&gt; 1</p></div>")
    }

    @Test func malformedDivIsInvalidNarrative() {
        #expect {
            _ = try XHTML.canonicalize("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>unclosed</div>")
        } throws: { error in
            guard let e = error as? FHIRError else { return false }
            return e.code == .invalidNarrative && e.location?.line == 1
        }
        #expect(throws: FHIRError.self) { _ = try XHTML.canonicalize("") }
    }

    @Test func doctypeInDivIsForbidden() {
        let div = "<!DOCTYPE div [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div>"
        #expect {
            _ = try XHTML.canonicalize(div)
        } throws: { error in
            (error as? FHIRError)?.code == .forbiddenXMLConstruct
        }
    }

    @Test func undeclaredEntityInDivIsForbidden() {
        #expect {
            _ = try XHTML.canonicalize("<div xmlns=\"http://www.w3.org/1999/xhtml\">&nbsp;</div>")
        } throws: { error in
            (error as? FHIRError)?.code == .forbiddenXMLConstruct
        }
    }
}
