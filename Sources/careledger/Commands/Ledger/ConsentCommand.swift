import ArgumentParser
import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore

/// `careledger consent submit|query`.
struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Record FHIR Consents on the ledger and answer consent queries from it.",
        subcommands: [ConsentSubmitCommand.self, ConsentQueryCommand.self]
    )
}

/// `careledger consent submit FILE --home DIR --store URL`.
struct ConsentSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Store a FHIR R4 Consent (JSON or XML) and record it on the ledger as a directive (grant for active, revoke for inactive).",
        discussion: """
            The Consent itself (PHI) goes to the store; the ledger gets the directive: the patient's pseudonym, \
            grantees, categories, purposes, classes, labels, periods and nested provisions, and the stored version's \
            commitment. A Consent that cannot be mapped is refused with an OperationOutcome (exit 1) naming the element. \
            The running node (careledger node start --home DIR) signs and commits it; the command waits for the block.
            """
    )

    @Argument(help: "The Consent (FHIR R4 JSON or XML).")
    var file: String

    @Option(help: "The node's home directory (its consortium key and RPC port).")
    var home: String

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let (resource, _, _) = try InputFile.readResource(file)
        let home = NodeHome(self.home)
        let consortiumKey: [UInt8]
        let port: Int
        do {
            consortiumKey = try home.consortiumKey()
            port = try home.rpcPort()
        } catch {
            FileHandle.standardError.write(Data("careledger consent submit: \(error)\n".utf8))
            throw ExitCode(66)
        }
        guard resource.resourceType == "Consent" else {
            Output.reject(OperationOutcome(issues: [.init(code: "invalid", diagnostics: "expected a Consent, found \(resource.resourceType)", location: ["/resourceType"])]))
        }
        let store = try await storeOptions.open()
        // A patient given by reference is resolved to its identifier from the store.
        var resolved: (system: String, value: String)?
        if let ref = resource.object["patient"]?.objectValue?["reference"]?.stringValue, ref.hasPrefix("Patient/") {
            let id = String(ref.dropFirst("Patient/".count))
            if let patient = try await store.current(RecordKey(type: "Patient", id: id)),
               let doc = try? FHIRDocument.read(patient.canonical),
               let identifier = doc.resource.object["identifier"]?.arrayValue?.first?.objectValue,
               let system = identifier["system"]?.stringValue, let value = identifier["value"]?.stringValue {
                resolved = (system, value)
            }
        }
        let stored: StoredVersion
        do {
            let record = try PreparedRecord(resource: resource)
            _ = try await store.commit([record], batch: nil)
            guard let current = try await store.current(record.key) else { throw NodeError("the Consent was not stored") }
            stored = current
        } catch let error as FHIRError {
            try? await store.close()
            Output.reject(OperationOutcome(error: error))
        }
        let directive: ConsentDirective
        do throws(ConsentMapping.Failure) {
            directive = try ConsentMapping.directive(from: resource, consortiumKey: consortiumKey, consentCommitment: stored.commitment,
                                                     issuedFallback: 0, resolvePatient: { _ in resolved })
        } catch {
            try? await store.close()
            Output.reject(OperationOutcome(issues: [.init(code: "not-supported", diagnostics: error.reason, location: [error.pointer])]))
        }
        try? await store.close()
        let response: RPCResponse
        do {
            response = try await RPCClient.send(port: port, method: "POST", path: "/submit_consent", body: directive.encoded)
        } catch {
            FileHandle.standardError.write(Data("careledger consent submit: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
        guard response.status == 200, object["code"] == nil else {
            Output.reject(OperationOutcome(issues: [.init(code: "business-rule", diagnostics: "the ledger refused the directive: \(object["message"] ?? String(decoding: response.body, as: UTF8.self))")]))
        }
        Output.line("\(directive.action == .grant ? "granted" : "revoked") Consent/\(resource.id ?? "") (\(stored.key)/_history/\(stored.version)) as directive \(Ledger.Hex.encode(directive.directiveId)) at height \(object["height"] ?? "?")")
    }
}

/// `careledger consent query --home DIR --patient SYSTEM|VALUE --actor SYSTEM|VALUE --purpose CODE …`.
struct ConsentQueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Answer a consent query from the ledger: CONSENT_PERMIT, CONSENT_DENY or NO_CONSENT, with REDACT obligations.",
        discussion: """
            Evaluated on the state the last committed block's header commits to, at that block's time (or --at), \
            never the wall clock. --json prints the CDS Hooks patient-consent-consult response; --prove FILE also \
            writes the proof of the patient's entries (or their absence) against that header, with its commit, \
            and, when the validator set changed since the genesis, the light path to it (careledger-consent-proof/2), \
            which `careledger verify FILE --genesis genesis.json` checks offline. Codes are SYSTEM|CODE; a bare \
            purpose is a v3-ActReason code, a bare label a v3-Confidentiality or v3-ActCode code, a bare category a \
            consentscope code.
            """
    )

    @Option(help: "The node's home directory (its consortium key and block store).")
    var home: String

    @Option(help: "The patient's identifier, SYSTEM|VALUE.")
    var patient: String

    @Option(help: "Who asks: an identifier SYSTEM|VALUE or a reference (Organization/…); repeatable.")
    var actor: [String] = []

    @Option(help: "Purpose of use; repeatable.")
    var purpose: [String] = []

    @Option(help: "Consent category (default patient-privacy).")
    var category = "patient-privacy"

    @Option(help: "A resource type asked for; repeatable.")
    var `class`: [String] = []

    @Option(help: "A security label of the data asked for; repeatable.")
    var label: [String] = []

    @Option(help: "A code of the data asked for (SYSTEM|CODE); repeatable.")
    var code: [String] = []

    @Option(help: "Evaluate at this FHIR instant instead of the last block's time.")
    var at: String?

    @Flag(help: "Print the CDS Hooks response as JSON.")
    var json = false

    @Option(help: "Write a proof of the answer to this file.")
    var prove: String?

    func run() async throws {
        guard let bar = patient.firstIndex(of: "|"), bar != patient.startIndex, patient.index(after: bar) != patient.endIndex else {
            throw ValidationError("--patient is SYSTEM|VALUE, found '\(patient)'")
        }
        let home = NodeHome(self.home)
        let chain: Chain
        let consortiumKey: [UInt8]
        do {
            consortiumKey = try home.consortiumKey()
            chain = try await home.openChain()
        } catch {
            FileHandle.standardError.write(Data("careledger consent query: \(error)\n".utf8))
            throw ExitCode(66)
        }
        guard let tip = await chain.provableTip else {
            FileHandle.standardError.write(Data("careledger consent query: the chain has no block yet\n".utf8))
            throw ExitCode(75)
        }
        let header = tip.block.block.header
        var time = header.time
        if let at {
            do throws(ConsentMapping.Failure) {
                time = try ConsentMapping.instant(at, pointer: "--at", end: false)
            } catch {
                throw ValidationError("--at: \(error.reason)")
            }
        }
        let query = ConsentQuery(
            patient: PatientPseudonym.derive(consortiumKey: consortiumKey, system: String(patient[..<bar]), value: String(patient[patient.index(after: bar)...])),
            actors: actor, purposes: purpose.map { Self.qualify($0, "http://terminology.hl7.org/CodeSystem/v3-ActReason") },
            category: Self.qualify(category, "http://terminology.hl7.org/CodeSystem/consentscope"), classes: self.class,
            labels: label.map { Self.qualify($0, ["U", "L", "M", "N", "R", "V"].contains($0) ? "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" : "http://terminology.hl7.org/CodeSystem/v3-ActCode") },
            codes: code, at: time)
        let proof: ConsentProof
        do {
            // The light path from the genesis validators when the validator set changed since (careledger-consent-proof/2);
            // only a written proof needs it.
            var light: (lightPath: [LightBlock], validators: ValidatorSet?) = ([], nil)
            if prove != nil { light = try await ReceiptBuilder.lightEvidence(to: header.height, in: chain) }
            proof = try ConsentProof.make(state: tip.state, query: query, header: header, commit: tip.block.commit,
                                          lightPath: light.lightPath, validators: light.validators)
        } catch {
            FileHandle.standardError.write(Data("careledger consent query: cannot prove the answer: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let prove { try ConsentJSON.encode(proof).write(to: URL(fileURLWithPath: prove)) }
        let answer = proof.answer
        if json {
            Output.write(Array(try JSONSerialization.data(withJSONObject: ConsentJSON.response(answer, header: header),
                                                          options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) + [10])
            return
        }
        Output.line(answer.decision.rawValue)
        for o in answer.obligations {
            Output.line("  REDACT" + (o.labels.isEmpty ? "" : " labels \(o.labels.joined(separator: ", "))") + (o.classes.isEmpty ? "" : " classes \(o.classes.joined(separator: ", "))")
                        + (o.codes.isEmpty ? "" : " codes \(o.codes.joined(separator: ", "))"))
        }
        for id in answer.basedOn { Output.line("  based on directive \(Ledger.Hex.encode(id))") }
        Output.line("  evaluated at height \(header.height), time \(header.time) ms, state root \(Ledger.Hex.encode(header.stateRoot))")
        if let prove { Output.line("  proof written to \(prove)") }
    }

    static func qualify(_ code: String, _ system: String) -> String { code.contains("|") ? code : "\(system)|\(code)" }
}
