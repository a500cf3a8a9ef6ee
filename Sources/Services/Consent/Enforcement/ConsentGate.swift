public import FHIRCore
import Foundation
import Ledger
public import RecordStore

/// Consent enforced on every partner read (issue 17, Deliver 6): the gate the gateway's read, vread, history,
/// search, `_include` and `$everything` pass through. Decisions are per patient compartment, at the last finalized
/// height, for the partner's identifiers and purpose of use, the resource's type, security labels and codes;
/// local clients are not filtered.
///
/// A request opens one ``ConsentSession`` (one height for all its resources); the session decides each resource.
public struct ConsentGate: Sendable {
    let source: any ConsentStateSource
    let store: any RecordStore
    let consortiumKey: [UInt8]
    public let cache: ConsentDecisionCache

    /// - Parameters:
    ///   - source: the finalized consent state (the node's chain).
    ///   - store: where the patients are, whose identifiers the ledger keys consent by.
    ///   - consortiumKey: the key patient pseudonyms are derived under (`PatientPseudonym`).
    public init(source: any ConsentStateSource, store: any RecordStore, consortiumKey: [UInt8], cache: ConsentDecisionCache = ConsentDecisionCache()) {
        self.source = source
        self.store = store
        self.consortiumKey = consortiumKey
        self.cache = cache
    }

    /// The session for one request by `principal`, or nil for a local client. Throws `.invalidRequest` for a
    /// purpose that is not a code, `.notReady` while the chain has no finalized block.
    public func session(for principal: Principal, purposeHeader: String?) async throws -> ConsentSession? {
        guard let terms = try ConsentTerms.of(principal, purposeHeader: purposeHeader) else { return nil }
        return try await session(terms)
    }

    /// The session for a partner's terms, at the last finalized height.
    public func session(_ terms: ConsentTerms) async throws -> ConsentSession {
        let finalized: FinalizedConsentState?
        do {
            finalized = try await source.finalized()
        } catch {
            throw ServiceError(.unavailable, "the consent ledger cannot be read: \(error)")
        }
        guard let finalized else { throw ServiceError(.notReady, "the consent ledger has no finalized block yet; consent cannot be decided") }
        return ConsentSession(gate: self, terms: terms, finalized: finalized)
    }

    /// The pseudonyms of the stored Patient `reference` (`Patient/id`), one per identifier with a system and a
    /// value, in the Patient's order (the first is the one a Consent's literal reference resolves to).
    func pseudonyms(of reference: String) async throws -> [[UInt8]] {
        let id = reference.dropFirst("Patient/".count)
        guard reference.hasPrefix("Patient/"), !id.isEmpty else { return [] }
        let stored: StoredVersion?
        do {
            stored = try await store.current(RecordKey(type: "Patient", id: String(id)))
        } catch {
            throw ServiceError(.unavailable, "the record store cannot be read: \(error)")
        }
        guard let stored, let patient = try? FHIRDocument.read(stored.canonical).resource else { return [] }
        var out: [[UInt8]] = []
        for identifier in patient.object["identifier"]?.arrayValue ?? [] {
            guard let o = identifier.objectValue, let system = o["system"]?.stringValue, let value = o["value"]?.stringValue else { continue }
            let pseudonym = PatientPseudonym.derive(consortiumKey: consortiumKey, system: system, value: value)
            if !out.contains(pseudonym) { out.append(pseudonym) }
        }
        return out
    }
}

/// The consent decisions of one partner request, all at one finalized height.
public struct ConsentSession: Sendable {
    let gate: ConsentGate
    public let terms: ConsentTerms
    public let finalized: FinalizedConsentState

    /// The finalized height the request's decisions are taken at.
    public var height: UInt64 { finalized.height }

    /// The consent of one patient (`Patient/id`) for this partner and purpose, from the cache when it can.
    public func consent(of patient: String) async throws -> PatientConsent {
        let key = ConsentDecisionCache.Key(actors: terms.actors, patient: patient, purpose: terms.purpose, height: finalized.height)
        return try await gate.cache.consent(key) {
            PatientConsent(pseudonyms: try await gate.pseudonyms(of: patient), state: finalized.state, terms: terms, at: finalized.time)
        }
    }

    /// The decision on `resource`: never for a local-only record (an AuditEvent); no consent needed outside every
    /// patient compartment; otherwise every patient it belongs to must permit, and no REDACT obligation may name it.
    public func decide(_ resource: Resource) async throws -> AccessDecision {
        // The hospital's own records (its AuditEvents) are no patient's consent to give (LocalOnlyRecords).
        guard !LocalOnlyRecords.contains(type: resource.resourceType) else {
            return AccessDecision(verdict: .localOnly, patients: [], decision: nil, basis: [], height: finalized.height)
        }
        let patients = PatientCompartment.patients(of: resource)
        guard !patients.isEmpty else {
            // A type in the compartment that names no patient (a Group without members) holds no one's data.
            return AccessDecision(verdict: .notPatientData, patients: [], decision: nil, basis: [], height: nil)
        }
        let facets = ConsentFacets(resource)
        var last = AccessDecision(verdict: .permitted, patients: patients, decision: nil, basis: [], height: finalized.height)
        for patient in patients {
            let consent = try await consent(of: patient)
            let (verdict, answer) = Self.verdict(consent, facets: facets, terms: terms, at: finalized.time)
            let decision = AccessDecision(verdict: verdict, patients: patients, decision: answer.decision,
                                          basis: answer.basedOn.map { Ledger.Hex.encode($0) }, height: finalized.height)
            guard verdict == .permitted else { return decision }
            last = decision
        }
        return last
    }

    /// One patient's verdict on a resource, and the answer that explains it. The answer narrowed to the
    /// resource's type, labels and codes decides (a provision naming them applies as a provision); when it
    /// withholds the resource and the patient's answer (not narrowed) is a permit whose REDACT obligation names the
    /// resource, that is the explanation: redacted under CONSENT_PERMIT, as consent-cases.md states such cases.
    static func verdict(_ consent: PatientConsent, facets: ConsentFacets, terms: ConsentTerms, at time: Int64)
        -> (AccessDecision.Verdict, ConsentAnswer)
    {
        let narrowed = consent.answer(for: facets, terms: terms, at: time)
        let redacts = { (answer: ConsentAnswer) in answer.obligations.contains { PatientConsent.withholds($0, facets) } }
        if narrowed.decision == .permit && !redacts(narrowed) { return (.permitted, narrowed) }
        if consent.answer.decision == .permit && redacts(consent.answer) { return (.redacted, consent.answer) }
        return narrowed.decision == .permit ? (.redacted, narrowed) : (.refused, narrowed)
    }

    /// A read, vread or history entry: the decision when the resource may be returned; `.forbidden` with an
    /// OperationOutcome when the patient's consent refuses it (``ConsentNotice/refusal``).
    public func authorize(read resource: Resource) async throws -> AccessDecision {
        let decision = try await decide(resource)
        guard decision.allows else { throw ConsentNotice.refusal(at: finalized.height) }
        return decision
    }

    /// The resources the partner may have, in order, and the decision on each one examined (for the audit trail).
    public func filter(_ resources: [Resource]) async throws -> ConsentFiltered {
        var kept: [Resource] = []
        var decisions: [AccessDecision] = []
        kept.reserveCapacity(resources.count)
        decisions.reserveCapacity(resources.count)
        for resource in resources {
            let decision = try await decide(resource)
            decisions.append(decision)
            if decision.allows { kept.append(resource) }
        }
        return ConsentFiltered(kept: kept, decisions: decisions)
    }
}

/// What a filter kept, and the decision on every resource it examined (same order as the input).
public struct ConsentFiltered: Sendable {
    public var kept: [Resource]
    public var decisions: [AccessDecision]

    /// Whether anything was withheld: for the audit trail only, never for the response.
    public var withheld: Int { decisions.count - kept.count }
}
