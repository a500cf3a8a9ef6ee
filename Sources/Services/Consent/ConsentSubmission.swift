public import FHIRCore
public import Ledger
public import Node
public import RecordStore

/// `consent submit` and `consent revoke` as one unit each, for the CLI, the demo and the gateway: a FHIR Consent is
/// validated, mapped to its directive and the ledger asked whether it would take it FIRST; only then is the Consent
/// stored (PHI stays off the chain) and the directive, carrying the stored version's commitment, recorded. A refused
/// Consent leaves the store, its anchoring queue and the chain untouched.
///
/// Failures are ``ServiceError``s: `.unprocessable` for a Consent or directive that is refused (the issues carry the
/// JSON pointer of what is wrong), `.conflict` for a second grant of the same Consent, `.unavailable` when the ledger
/// cannot be asked (nothing was stored), `.notReady` when the Consent is stored but its directive was not recorded
/// after the check (submitting the same Consent again records it), `.notFound` for a revoke of a Consent not stored.
public struct ConsentSubmission: Sendable {
    /// What was recorded.
    public struct Recorded: Sendable {
        public let directive: ConsentDirective
        /// The Consent's version in the store (its commitment is the directive's).
        public let stored: StoredVersion
        public let inclusion: Inclusion
    }

    public let store: any RecordStore
    public let consortiumKey: [UInt8]
    public let ledger: any ConsentLedger

    public init(store: any RecordStore, consortiumKey: [UInt8], ledger: any ConsentLedger) {
        self.store = store
        self.consortiumKey = consortiumKey
        self.ledger = ledger
    }

    /// Checks, stores and records `consent`: a grant when it is active, a revoke of its earlier grant when it is
    /// inactive (or entered-in-error, rejected).
    public func submit(_ consent: Resource) async throws(ServiceError) -> Recorded {
        guard consent.resourceType == "Consent" else {
            throw Self.refused("invalid", "expected a Consent, found \(consent.resourceType)", at: "/resourceType")
        }
        // What `fhir validate` refuses is refused here too, whoever calls (the CLI reads through the validator; the
        // demo and a gateway hand over a parsed Consent).
        let invalid = Validator().validate(consent).filter(\.isError)
        guard invalid.isEmpty else { throw ServiceError(.unprocessable, Self.summary(invalid), issues: invalid) }
        let record: PreparedRecord
        do throws(FHIRError) {
            record = try PreparedRecord(resource: consent)
        } catch {
            throw ServiceError(error)
        }
        let resolved = try await ServiceError.store("read the Consent's patient") { try await patientIdentifier(of: consent) }
        // Actors and organizations given as literal references (`Organization/x`) are recorded as the identifiers of
        // the resources they name (stored or contained); one that names none is refused at its pointer.
        let actors = try await ServiceError.store("resolve the Consent's actors") { try await ConsentMapping.resolveActors(in: consent, store: store) }
        // The stored version's commitment is not known before it is stored; the checks do not depend on it.
        var directive: ConsentDirective
        do throws(ConsentMapping.Failure) {
            directive = try ConsentMapping.directive(from: consent, consortiumKey: consortiumKey, consentCommitment: [UInt8](repeating: 0, count: Hash32.length),
                                                     issuedFallback: 0, resolvePatient: { _ in resolved }, resolveActor: { actors[$0] ?? [] })
        } catch {
            throw Self.refused(error.issueType, error.reason, at: error.pointer)
        }
        let problem = try await ServiceError.wrapping(.unavailable, "the ledger could not check the directive, nothing was stored") {
            try await ledger.consentProblem(directive)
        }
        if let problem { throw refusal(problem, consent: consent) }

        let stored = try await ServiceError.store("store \(record.key)") { () async throws -> StoredVersion in
            _ = try await store.commit([record], batch: nil)
            guard let stored = try await store.current(record.key) else {
                throw ServiceError(.internal, "\(record.key) was committed but the store does not return it")
            }
            return stored
        }
        directive.consentCommitment = stored.commitment
        let inclusion: Inclusion
        do {
            inclusion = try await ledger.record(directive)
        } catch {
            throw notRecorded(stored, "\(error)")
        }
        if let code = inclusion.result.code { throw notRecorded(stored, "\(code.rawValue): \(inclusion.result.message)") }
        return Recorded(directive: directive, stored: stored, inclusion: inclusion)
    }

    /// Revokes the grant of the stored Consent `id`: its current version is stored again with status `inactive`
    /// and submitted, so the ledger records the revoke and the store the Consent as it now stands.
    public func revoke(consentId id: String) async throws(ServiceError) -> Recorded {
        let key = RecordKey(type: "Consent", id: id)
        guard let current = try await ServiceError.store("read \(key)", { try await store.current(key) }) else {
            throw ServiceError(.notFound, "\(key) is not in the store: only a stored Consent's grant can be revoked")
        }
        var consent: Resource
        do throws(FHIRError) {
            consent = try FHIRDocument.read(current.canonical).resource
        } catch {
            throw ServiceError(.internal, "the stored \(key) cannot be read back: \(error)")
        }
        consent.object["status"] = .string("inactive")
        return try await submit(consent)
    }

    /// The identifier of the stored Patient a `Patient/ID` reference names, if it has one.
    func patientIdentifier(of consent: Resource) async throws -> (system: String, value: String)? {
        guard let ref = consent.object["patient"]?.objectValue?["reference"]?.stringValue, ref.hasPrefix("Patient/") else { return nil }
        guard let patient = try await store.current(RecordKey(type: "Patient", id: String(ref.dropFirst("Patient/".count)))),
              let doc = try? FHIRDocument.read(patient.canonical),
              let identifier = doc.resource.object["identifier"]?.arrayValue?.first?.objectValue,
              let system = identifier["system"]?.stringValue, let value = identifier["value"]?.stringValue else { return nil }
        return (system, value)
    }

    /// The ledger's refusal in the Consent's terms, at the element that causes it.
    func refusal(_ problem: TransactionError, consent: Resource) -> ServiceError {
        let name = "Consent/\(consent.id ?? "")"
        let status = consent.object["status"]?.stringValue ?? ""
        switch problem.code {
        case .unknownDirective where problem.message.contains("already revoked"):
            return Self.refused("business-rule", "nothing to revoke: the grant of \(name) on the ledger is already revoked", at: "/status")
        case .unknownDirective:
            return Self.refused("business-rule",
                                "nothing to revoke: a Consent with status '\(status)' revokes the grant the same Consent made when it was active, and the ledger has no grant of \(name)",
                                at: "/status")
        case .notSubmitter:
            return Self.refused("business-rule", "the grant of \(name) was recorded by another participant; only that participant revokes it", at: "/status")
        case .duplicateDirective:
            return Self.refused("duplicate",
                                "\(name) is already granted on the ledger; a grant is recorded once: revoke it (status inactive) and grant new terms under a new Consent id",
                                at: "/id", code: .conflict)
        case .malformed:
            return Self.refused("invalid", "the ledger refused the directive: \(problem.message)", at: "/provision")
        default:
            return Self.refused("business-rule", "the ledger refused the directive: \(problem.code.rawValue): \(problem.message)", at: nil)
        }
    }

    func notRecorded(_ stored: StoredVersion, _ why: String) -> ServiceError {
        ServiceError(.notReady,
                     "\(stored.key)/_history/\(stored.version) is stored but the ledger did not record its directive (\(why)); submit the same Consent again to record it")
    }

    /// A refusal of the Consent: one issue of `issueType` at `pointer`.
    static func refused(_ issueType: String, _ diagnostics: String, at pointer: String?, code: ServiceError.Code = .unprocessable) -> ServiceError {
        let issue = OperationOutcome.Issue(code: issueType, diagnostics: diagnostics, location: pointer.map { [$0] } ?? [])
        return ServiceError(code, pointer.map { "\($0): \(diagnostics)" } ?? diagnostics, issues: [issue])
    }

    /// The validator's issues in one line, each with its location.
    static func summary(_ issues: [OperationOutcome.Issue]) -> String {
        issues.map { "\($0.location.joined(separator: ", ")): \($0.diagnostics)" }.joined(separator: "; ")
    }
}
