@testable import FHIRCore

/// Helpers shared by the XML codec tests.
enum XMLTestSupport {
    static let reader = XMLReader()
    static let writer = XMLWriter()

    /// A FHIR XML document: `body` inside `<Patient xmlns="http://hl7.org/fhir">`.
    static func patient(_ body: String) -> [UInt8] {
        Array(("<Patient xmlns=\"http://hl7.org/fhir\">" + body + "</Patient>").utf8)
    }

    /// Parses JSON text (test fixtures) into a value.
    static func json(_ text: String) throws -> FHIRValue {
        try JSONReader().readValue(Array(text.utf8))
    }

    /// The tree with every narrative `div` replaced by its Canonical XML form, so that two spellings of the same
    /// XHTML compare equal. An unparsable div is kept, marked, so it still differs.
    static func canonicalizingDivs(_ value: FHIRValue) -> FHIRValue {
        XHTML.canonicalizingDivs(in: value) { "UNPARSABLE " + $0 }
    }

    /// Where two trees differ, as JSON pointers with both sides (for failure messages).
    static func differences(_ a: FHIRValue, _ b: FHIRValue, at path: String = "") -> [String] {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            var out: [String] = []
            for m in x.members {
                if let other = y[m.name] {
                    out += differences(m.value, other, at: path + "/" + m.name)
                } else {
                    out.append("\(path)/\(m.name) only on the left")
                }
            }
            for m in y.members where x[m.name] == nil { out.append("\(path)/\(m.name) only on the right") }
            return out
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return ["\(path): \(x.count) items vs \(y.count)"] }
            return x.indices.flatMap { differences(x[$0], y[$0], at: path + "/\($0)") }
        default:
            return a == b ? [] : ["\(path): \(String(describing: a).prefix(120)) vs \(String(describing: b).prefix(120))"]
        }
    }

    /// Reads XML that must fail, returning the error (nil if it did not fail).
    static func failure(_ bytes: [UInt8], limits: FHIRLimits = .default) -> FHIRError? {
        do {
            _ = try XMLReader(limits: limits).read(bytes)
            return nil
        } catch {
            return error
        }
    }
}
