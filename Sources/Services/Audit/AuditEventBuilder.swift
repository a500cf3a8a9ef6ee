public import FHIRCore
public import Foundation
import Ledger
import RecordStore

/// Builds the FHIR R4 AuditEvent of a partner access, shaped as IHE Basic Audit Log Patterns (BALP) records a
/// RESTful access: the client as the requesting agent, this gateway as the responding one and as the observer, the
/// patient and the data (or the query) as entities, the purpose of use, the outcome, and — as entity details — the
/// consent decision, the ledger height it was taken at and its basis.
public struct AuditEventBuilder: Sendable {
    /// This gateway, as the AuditEvent's observer and responding agent.
    public var observer: String
    /// The identifier system of SMART client ids in agents.
    public static let clientSystem = "urn:careledger:smart-client"
    /// The identifier system of participants (hex Ed25519 public keys).
    public static let participantSystem = "urn:careledger:participant"
    /// The URI prefix of a consent directive named as an agent's policy.
    public static let directivePrefix = "urn:careledger:consent-directive:"

    public init(observer: String) {
        self.observer = observer
    }

    /// The AuditEvent for `access`, recorded at `recorded`, with the given id (by default a time-ordered one,
    /// ``AuditEventID``).
    public func event(_ access: AuditedAccess, recorded: Date, id: String? = nil) throws(FHIRError) -> Resource {
        var o = FHIRObject([
            "resourceType": .string("AuditEvent"),
            "id": .string(id ?? AuditEventID.make(recorded: recorded)),
            "type": coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation"),
            "subtype": .array([coding("http://hl7.org/fhir/restful-interaction", access.interaction.rawValue, nil)]),
            "action": .string(access.interaction.action),
            "recorded": .string(Instant.format(recorded)),
            "outcome": .string(access.outcome.rawValue),
        ])
        if let description = access.outcomeDescription, !description.isEmpty { o["outcomeDesc"] = .string(description) }
        if let purpose = Self.split(access.purpose) {
            o["purposeOfEvent"] = .array([.object(FHIRObject(["coding": .array([coding(purpose.system, purpose.code, nil)])]))])
        }
        o["agent"] = .array(agents(access))
        o["source"] = .object(FHIRObject([
            "observer": .object(FHIRObject(["display": .string(observer)])),
            "type": .array([coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")]),
        ]))
        let entities = entities(access)
        if !entities.isEmpty { o["entity"] = .array(entities) }
        return try Resource(o)
    }

    /// BALP: the client (requestor, DICOM Source Role ID), its organization with the consent basis as its
    /// policy, and this gateway (DICOM Destination Role ID).
    func agents(_ a: AuditedAccess) -> [FHIRValue] {
        var client = FHIRObject([
            "type": concept("http://dicom.nema.org/resources/ontology/DCM", "110153", "Source Role ID"),
            "who": .object(FHIRObject([
                "identifier": .object(FHIRObject(["system": .string(Self.clientSystem), "value": .string(a.clientId)])),
                "display": .string(a.clientId),
            ])),
            "requestor": .bool(true),
        ])
        if let participant = a.participant { client["altId"] = .string(participant) }
        var out: [FHIRValue] = [.object(client)]
        if let first = a.identifiers.first.flatMap(Self.split) ?? a.participant.map({ (Self.participantSystem, $0) }) {
            var organization = FHIRObject([
                "type": concept("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider"),
                "who": .object(FHIRObject([
                    "identifier": .object(FHIRObject(["system": .string(first.system), "value": .string(first.code)])),
                ])),
                "requestor": .bool(false),
            ])
            if !a.basis.isEmpty { organization["policy"] = .array(a.basis.map { .string(Self.directivePrefix + $0) }) }
            out.append(.object(organization))
        }
        out.append(.object(FHIRObject([
            "type": concept("http://dicom.nema.org/resources/ontology/DCM", "110152", "Destination Role ID"),
            "who": .object(FHIRObject(["display": .string(observer)])),
            "requestor": .bool(false),
        ])))
        return out
    }

    /// BALP: each patient (Person, role Patient) with the consent decision and height; each resource (System
    /// Object, role Domain Resource); the query (role Query, base64 of the request's query).
    func entities(_ a: AuditedAccess) -> [FHIRValue] {
        var out: [FHIRValue] = []
        for patient in a.patients {
            var entity = FHIRObject([
                "what": .object(FHIRObject(["reference": .string(patient)])),
                "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
                "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
            ])
            var details: [FHIRValue] = []
            if let decision = a.decision { details.append(detail("consent-decision", decision.rawValue)) }
            if let height = a.height { details.append(detail("ledger-height", String(height))) }
            if !a.basis.isEmpty { details.append(detail("consent-basis", a.basis.joined(separator: " "))) }
            if !details.isEmpty { entity["detail"] = .array(details) }
            out.append(.object(entity))
        }
        for resource in a.resources {
            out.append(.object(FHIRObject([
                "what": .object(FHIRObject(["reference": .string(resource)])),
                "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource"),
            ])))
        }
        if let query = a.query, !query.isEmpty {
            out.append(.object(FHIRObject([
                "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"),
                "query": .string(Data(query.utf8).base64EncodedString()),
            ])))
        }
        return out
    }

    func coding(_ system: String, _ code: String, _ display: String?) -> FHIRValue {
        var o = FHIRObject(["system": .string(system), "code": .string(code)])
        if let display { o["display"] = .string(display) }
        return .object(o)
    }

    func concept(_ system: String, _ code: String, _ display: String) -> FHIRValue {
        .object(FHIRObject(["coding": .array([coding(system, code, display)])]))
    }

    func detail(_ type: String, _ value: String) -> FHIRValue {
        .object(FHIRObject(["type": .string(type), "valueString": .string(value)]))
    }

    /// `system|code` split at its last `|`.
    static func split(_ s: String) -> (system: String, code: String)? {
        guard let bar = s.lastIndex(of: "|") else { return nil }
        let system = String(s[..<bar]), code = String(s[s.index(after: bar)...])
        return system.isEmpty || code.isEmpty ? nil : (system, code)
    }
}
