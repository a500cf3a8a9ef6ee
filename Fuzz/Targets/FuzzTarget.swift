import FHIRCore
import HL7v2
import Ledger
import Mapping
import Node

/// One fuzz target: a reader of untrusted bytes, and the property that must hold for every input it accepts
/// (beyond not crashing, which the sanitizers check). Each target is run by libFuzzer (`scripts/fuzz.sh`) and, over
/// its seed folder `Fuzz/seeds/<name>/` and the shared corpus, by the `FuzzTests` suite.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case fhirJSON = "fhir-json"
    case fhirXML = "fhir-xml"
    case hl7ER7 = "hl7-er7"
    case ccdaXML = "ccda-xml"
    case receiptJSON = "receipt-json"
    case proofJSON = "proof-json"
    case ledgerDecode = "ledger-decode"
    case mllpFrame = "mllp-frame"

    /// What the target reads and what it checks, for `scripts/fuzz.sh --list`.
    public var summary: String {
        switch self {
        case .fhirJSON:
            "FHIR JSON reader: an accepted resource re-encodes (JSON, and XML when valid) to bytes that read back to the same canonical form; the tape and the tree give the same canonical bytes and the same validation issues"
        case .fhirXML:
            "FHIR XML reader: an accepted resource re-encodes (XML and JSON) to bytes that read back to the same canonical form"
        case .hl7ER7:
            "HL7 v2 ER7 parser: an accepted message encodes back to exactly its input; with CR terminators it parses to the same segments; conversion to FHIR never yields invalid resources"
        case .ccdaXML:
            "C-CDA reader and mapping (Mappings/ccda): a converted document's Bundle re-reads as FHIR JSON to the same canonical form"
        case .receiptJSON:
            "receipt reader: an accepted receipt encodes to JSON that decodes to the same receipt"
        case .proofJSON:
            "consent proof reader: an accepted proof encodes to JSON that decodes to the same proof"
        case .ledgerDecode:
            "canonical ledger decoding (first byte picks the type: network message, transaction, block, header, commit, vote, evidence, consent directive, participant, sparse Merkle proof): a decoded value encodes to exactly its input"
        case .mllpFrame:
            "MLLP framer: bytes fed in any pieces give the same events as fed whole; every frame re-framed gives back that frame"
        }
    }

    /// Runs the target on one input: true when the reader accepted it and the properties were checked, false when
    /// the reader refused it with an error (that is the reader's job). Throws only when a property does not hold.
    @discardableResult
    public func run(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        switch self {
        case .fhirJSON, .fhirXML: return try FHIRProperties.check(bytes, target: self)
        case .hl7ER7: return try HL7Properties.check(bytes)
        case .ccdaXML: return try CCDAProperties.check(bytes)
        case .receiptJSON: return try JSONDocumentProperties.checkReceipt(bytes)
        case .proofJSON: return try JSONDocumentProperties.checkProof(bytes)
        case .ledgerDecode: return try LedgerProperties.check(bytes)
        case .mllpFrame: return try MLLPProperties.check(bytes)
        }
    }

    /// For ledger-decode: the first input byte that selects the ledger type named `typeName` (`Transaction`,
    /// `BlockHeader`, …), so that seeds can be made from encodings.
    public static func ledgerSelector(for typeName: String) -> UInt8? { LedgerProperties.selector(for: typeName) }

    /// Whether a corpus file suits this target, by its extension.
    public func accepts(fileName: String) -> Bool {
        let lower = fileName.lowercased()
        switch self {
        case .fhirJSON: return lower.hasSuffix(".json") || lower.hasSuffix(".ndjson")
        case .fhirXML, .ccdaXML: return lower.hasSuffix(".xml")
        case .hl7ER7, .mllpFrame: return lower.hasSuffix(".hl7") || lower.hasSuffix(".er7") || lower.hasSuffix(".txt")
        case .receiptJSON, .proofJSON: return lower.hasSuffix(".json")
        case .ledgerDecode: return true
        }
    }
}

/// A property that did not hold: which target, which property, and what differed.
public struct FuzzViolation: Error, Sendable, CustomStringConvertible {
    public let target: FuzzTarget
    public let property: String
    public let detail: String

    public init(_ target: FuzzTarget, _ property: String, _ detail: String) {
        self.target = target
        self.property = property
        self.detail = detail
    }

    public var description: String { "\(target.rawValue): \(property): \(detail)" }
}

/// A short, printable sample of bytes for a violation's detail.
func preview(_ bytes: [UInt8], limit: Int = 160) -> String {
    let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
    return bytes.count > limit ? "\(text)… (\(bytes.count) bytes)" : text
}
