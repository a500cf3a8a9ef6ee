public import FHIRCore
public import Ledger
public import RecordStore

/// Where a Consent's directive is recorded: the running node over its RPC (``RPCConsentLedger``), or a chain in
/// this process (``Chain``, as the demo runs it).
public protocol ConsentLedger: Sendable {
    /// Why the ledger would refuse the directive now, or nil; submits nothing.
    func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError?
    /// Submits the directive and returns once it is committed and the next header commits to the state with it.
    func record(_ directive: ConsentDirective) async throws -> Inclusion
}

/// Why a Consent was not submitted, as an OperationOutcome with the pointer of what is wrong.
public struct ConsentSubmissionError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String { case refused, ledgerUnavailable, notRecorded }
        private let value: Value

        /// The Consent or its directive is refused: nothing was stored and nothing submitted.
        public static let refused = Code(value: .refused)
        /// The ledger could not be asked (is the node running?): nothing was stored.
        public static let ledgerUnavailable = Code(value: .ledgerUnavailable)
        /// The Consent is stored but the ledger did not take its directive after it had checked it (the node stopped,
        /// or another submission came first); submitting the same Consent again records it, or says why not.
        public static let notRecorded = Code(value: .notRecorded)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// What is wrong, with JSON pointers into the Consent where there is one.
    public let outcome: OperationOutcome
    /// The ledger's own refusal when it is the ledger that refuses (a second grant, nothing to revoke), else nil.
    public let ledgerRefusal: TransactionError?

    public init(_ code: Code, _ outcome: OperationOutcome, ledgerRefusal: TransactionError? = nil) {
        self.code = code
        self.outcome = outcome
        self.ledgerRefusal = ledgerRefusal
    }

    init(_ code: Code, issueType: String, _ diagnostics: String, at pointer: String? = nil, ledgerRefusal: TransactionError? = nil) {
        self.init(code, OperationOutcome(issues: [.init(code: issueType, diagnostics: diagnostics, location: pointer.map { [$0] } ?? [])]),
                  ledgerRefusal: ledgerRefusal)
    }

    public var description: String { outcome.issues.map { "\($0.location.joined(separator: ", ")): \($0.diagnostics)" }.joined(separator: "; ") }
}

/// `consent submit` as one unit, for the CLI, the demo and a gateway: a FHIR Consent is validated, mapped to its
/// directive and the ledger asked whether it would take it FIRST; only then is the Consent stored (PHI stays off the chain)
/// and the directive, carrying the stored version's commitment, recorded. A refused Consent leaves the store, its
/// anchoring queue and the chain untouched.
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

    /// Checks, stores and records `consent`; throws ``ConsentSubmissionError`` for what is refused, and the store's
    /// own errors.
    public func submit(_ consent: Resource) async throws -> Recorded {
        guard consent.resourceType == "Consent" else {
            throw ConsentSubmissionError(.refused, issueType: "invalid", "expected a Consent, found \(consent.resourceType)", at: "/resourceType")
        }
        // What `fhir validate` refuses is refused here too, whoever calls (the CLI reads through the validator; the
        // demo and a gateway hand over a parsed Consent).
        let invalid = Validator().validate(consent).filter(\.isError)
        guard invalid.isEmpty else { throw ConsentSubmissionError(.refused, OperationOutcome(issues: invalid)) }
        let record: PreparedRecord
        do throws(FHIRError) {
            record = try PreparedRecord(resource: consent)
        } catch {
            throw ConsentSubmissionError(.refused, OperationOutcome(error: error))
        }
        let resolved = try await patientIdentifier(of: consent)
        // The stored version's commitment is not known before it is stored; the checks do not depend on it.
        var directive: ConsentDirective
        do throws(ConsentMapping.Failure) {
            directive = try ConsentMapping.directive(from: consent, consortiumKey: consortiumKey, consentCommitment: [UInt8](repeating: 0, count: Hash32.length),
                                                     issuedFallback: 0, resolvePatient: { _ in resolved })
        } catch {
            throw ConsentSubmissionError(.refused, issueType: error.issueType, error.reason, at: error.pointer)
        }
        let problem: TransactionError?
        do {
            problem = try await ledger.consentProblem(directive)
        } catch {
            throw ConsentSubmissionError(.ledgerUnavailable, issueType: "transient", "the ledger could not check the directive, nothing was stored: \(error)")
        }
        if let problem { throw refusal(problem, consent: consent) }

        _ = try await store.commit([record], batch: nil)
        guard let stored = try await store.current(record.key) else {
            throw ConsentSubmissionError(.notRecorded, issueType: "exception", "\(record.key) was committed but the store does not return it")
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
    func refusal(_ problem: TransactionError, consent: Resource) -> ConsentSubmissionError {
        let name = "Consent/\(consent.id ?? "")"
        let status = consent.object["status"]?.stringValue ?? ""
        let (issueType, diagnostics, pointer): (String, String, String?)
        switch problem.code {
        case .unknownDirective where problem.message.contains("already revoked"):
            (issueType, diagnostics, pointer) = ("business-rule", "nothing to revoke: the grant of \(name) on the ledger is already revoked", "/status")
        case .unknownDirective:
            (issueType, diagnostics, pointer) = ("business-rule",
                                                 "nothing to revoke: a Consent with status '\(status)' revokes the grant the same Consent made when it was active, and the ledger has no grant of \(name)",
                                                 "/status")
        case .notSubmitter:
            (issueType, diagnostics, pointer) = ("business-rule", "the grant of \(name) was recorded by another participant; only that participant revokes it", "/status")
        case .duplicateDirective:
            (issueType, diagnostics, pointer) = ("duplicate",
                                                 "\(name) is already granted on the ledger; a grant is recorded once: revoke it (status inactive) and grant new terms under a new Consent id",
                                                 "/id")
        case .malformed:
            (issueType, diagnostics, pointer) = ("invalid", "the ledger refused the directive: \(problem.message)", "/provision")
        default:
            (issueType, diagnostics, pointer) = ("business-rule", "the ledger refused the directive: \(problem.code.rawValue): \(problem.message)", nil)
        }
        return ConsentSubmissionError(.refused, issueType: issueType, diagnostics, at: pointer, ledgerRefusal: problem)
    }

    func notRecorded(_ stored: StoredVersion, _ why: String) -> ConsentSubmissionError {
        ConsentSubmissionError(.notRecorded, issueType: "transient",
                               "\(stored.key)/_history/\(stored.version) is stored but the ledger did not record its directive (\(why)); submit the same Consent again to record it")
    }
}

extension Chain: ConsentLedger {
    public func record(_ directive: ConsentDirective) async throws -> Inclusion { try await recordConsent(directive).inclusion }

    /// Signs the directive with this node's key, and waits for its block and the one after (whose header commits
    /// to the state with it, so a query right after sees it).
    public func recordConsent(_ directive: ConsentDirective) async throws -> (transaction: Transaction, inclusion: Inclusion) {
        let tx = try submit(.consentDirective(directive))
        let inclusion = await inclusion(of: tx.hash)
        if inclusion.result.code == nil { await waitFor(height: inclusion.height + 1) }
        return (tx, inclusion)
    }
}
