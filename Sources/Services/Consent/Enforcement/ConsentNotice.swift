public import FHIRCore

/// What a partner is told about consent filtering. Every partner search Bundle carries the same notice, whether or
/// not anything was withheld, so that nothing about withheld data (its existence, count or type) can be read from
/// it; a refused read says only that consent refuses it.
public enum ConsentNotice {
    /// The notice's text: the same on every partner search.
    public static let searchText = "Results are filtered by the patients' consent recorded on the CareLedger consortium ledger: "
        + "only resources the consent permits to this client for this purpose of use are returned, and the total counts only those."

    /// The notice as an OperationOutcome (one informational issue).
    public static var searchOutcome: OperationOutcome {
        OperationOutcome(issues: [OperationOutcome.Issue(severity: "information", code: "suppressed", diagnostics: searchText)])
    }

    /// The notice as a searchset Bundle entry: the OperationOutcome with `search.mode = outcome` (FHIR R4 search,
    /// §3.1.1.4.6).
    public static var searchEntry: FHIRObject {
        FHIRObject([
            "resource": .object(searchOutcome.resource),
            "search": .object(FHIRObject(["mode": .string("outcome")])),
        ])
    }

    /// The refusal of a read, vread or history entry: 403 with an OperationOutcome that names the height the
    /// consent was decided at, and nothing about the record.
    public static func refusal(at height: UInt64) -> ServiceError {
        ServiceError(.forbidden, "the patient's consent on the ledger (height \(height)) does not permit this client this record for this purpose of use")
    }
}

extension ConsentNotice {
    /// A partner's searchset Bundle with the consent notice as its last entry (an `outcome` entry, as FHIR R4 search
    /// places OperationOutcomes).
    public static func addingNotice(to bundle: FHIRValue) -> FHIRValue {
        guard var object = bundle.objectValue else { return bundle }
        var entries = object["entry"]?.arrayValue ?? []
        entries.append(.object(searchEntry))
        object["entry"] = .array(entries)
        return .object(object)
    }
}
