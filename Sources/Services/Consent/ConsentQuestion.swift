public import Ledger
public import Node

/// The terms of a consent query as a partner writes them (`consent query` options, a gateway's parameters), checked
/// and qualified by ConsentMapping's query readers: who asks, for which patient, why, and what data.
public struct ConsentQuestion: Sendable, Hashable {
    /// The patient's identifier (`system`, `value`); the ledger knows the patient by its pseudonym under the
    /// consortium key.
    public var patientSystem: String
    public var patientValue: String
    /// Identifiers `SYSTEM|VALUE` or references `Type/id`.
    public var actors: [String]
    /// Qualified `SYSTEM|CODE`.
    public var purposes: [String]
    public var category: String
    public var classes: [String]
    public var labels: [String]
    public var codes: [String]
    /// Milliseconds since 1970 to evaluate at; nil: the time of the block the answer comes from (never the wall clock).
    public var at: Int64?

    /// The terms as written, each checked; a mistake is `.invalidRequest` naming the option (`--actor: …`).
    /// Bare codes are read in their usual vocabulary: a purpose in v3-ActReason, a category in consentscope, a
    /// label in v3-Confidentiality (U L M N R V) or else v3-ActCode.
    public init(patient: String, actors: [String], purposes: [String], category: String = "patient-privacy", classes: [String] = [],
                labels: [String] = [], codes: [String] = [], at: String? = nil) throws(ServiceError) {
        typealias M = ConsentMapping
        do throws(M.Failure) {
            let identifier = try M.queryIdentifier(patient, option: "--patient")
            patientSystem = identifier.system
            patientValue = identifier.value
            self.actors = try actors.map { (s) throws(M.Failure) in try M.queryActor(s, option: "--actor") }
            self.purposes = try purposes.map { (s) throws(M.Failure) in try M.queryCode(s, option: "--purpose", defaultSystem: M.QuerySystem.purpose) }
            self.category = try M.queryCode(category, option: "--category", defaultSystem: M.QuerySystem.category)
            self.classes = try classes.map { (s) throws(M.Failure) in try M.queryClass(s, option: "--class") }
            self.labels = try labels.map { (s) throws(M.Failure) in
                try M.queryCode(s, option: "--label", defaultSystem: ["U", "L", "M", "N", "R", "V"].contains(s) ? M.QuerySystem.confidentiality : M.QuerySystem.actCode)
            }
            self.codes = try codes.map { (s) throws(M.Failure) in try M.queryCode(s, option: "--code", defaultSystem: nil) }
            self.at = try at.map { (s) throws(M.Failure) in try M.instant(s, pointer: "--at", end: false) }
        } catch {
            throw ServiceError(.invalidRequest, "\(error.pointer): \(error.reason)")
        }
    }

    /// The ledger's query: the patient as its pseudonym, evaluated at `at` or else `blockTime`.
    public func query(consortiumKey: [UInt8], blockTime: Int64) -> ConsentQuery {
        ConsentQuery(patient: PatientPseudonym.derive(consortiumKey: consortiumKey, system: patientSystem, value: patientValue),
                     actors: actors, purposes: purposes, category: category, classes: classes, labels: labels, codes: codes, at: at ?? blockTime)
    }
}
