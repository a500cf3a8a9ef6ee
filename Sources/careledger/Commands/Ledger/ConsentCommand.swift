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
            commitment. The directive is checked first: a Consent that cannot be mapped (a draft, no patient, a period \
            that ends before it starts, a repeated actor, more than 256 provisions or 256 values of one element) or that \
            the ledger would refuse (entered-in-error or rejected with no grant to revoke, a second grant of the same \
            Consent) is refused with an OperationOutcome (exit 1) naming the element, and nothing is stored or submitted. \
            The running node (careledger node start --home DIR) signs and commits it; the command waits for the block. \
            Exit 66: the home has no key or no running node's RPC port; 69: the node cannot be reached (nothing is \
            stored); 75: the Consent is stored but the node did not record its directive after checking it (it \
            stopped, or another submission came first): submit it again.
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
        let store = try await storeOptions.open()
        let recorded: ConsentSubmission.Recorded
        do {
            recorded = try await ConsentSubmission(store: store, consortiumKey: consortiumKey, ledger: RPCConsentLedger(port: port)).submit(resource)
        } catch let error as ConsentSubmissionError {
            try? await store.close()
            if error.code == .refused { Output.reject(error.outcome) }
            // Not refused: the node could not be asked (69, nothing stored), or took the Consent's check but not its
            // directive (75: stored, submitting again records it).
            Output.write(JSONWriter(style: .pretty).write(.object(error.outcome.resource)))
            FileHandle.standardError.write(Data("careledger consent submit: \(error)\n".utf8))
            throw ExitCode(error.code == .ledgerUnavailable ? 69 : 75)
        } catch {
            try? await store.close()
            throw error
        }
        try? await store.close()
        let directive = recorded.directive
        Output.line("\(directive.action == .grant ? "granted" : "revoked") Consent/\(resource.id ?? "") (\(recorded.stored.key)/_history/\(recorded.stored.version)) as directive \(Ledger.Hex.encode(directive.directiveId)) at height \(recorded.inclusion.height)")
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

    @Option(help: "Purpose of use, CODE (v3-ActReason) or SYSTEM|CODE; repeatable.")
    var purpose: [String] = []

    @Option(help: "Consent category (default patient-privacy).")
    var category = "patient-privacy"

    @Option(help: "A resource type asked for; repeatable.")
    var `class`: [String] = []

    @Option(help: "A security label of the data asked for; repeatable.")
    var label: [String] = []

    @Option(help: "A code of the data asked for (SYSTEM|CODE); repeatable.")
    var code: [String] = []

    @Option(help: "Evaluate at this time instead of the last block's: a FHIR date or dateTime whose time has a zone (2027-03-01, 2027-03-01T09:30:00+01:00).")
    var at: String?

    @Flag(help: "Print the CDS Hooks response as JSON.")
    var json = false

    @Option(help: "Write a proof of the answer to this file.")
    var prove: String?

    /// The query's terms, checked and qualified (ConsentMapping's query readers); each option's mistake exits 64.
    struct Terms {
        var patient: (system: String, value: String)
        var actors: [String]
        var purposes: [String]
        var category: String
        var classes: [String]
        var labels: [String]
        var codes: [String]
        var at: Int64?
    }

    func terms() throws -> Terms {
        do throws(ConsentMapping.Failure) {
            typealias M = ConsentMapping
            return Terms(
                patient: try M.queryIdentifier(patient, option: "--patient"),
                actors: try actor.map { (s) throws(M.Failure) in try M.queryActor(s, option: "--actor") },
                purposes: try purpose.map { (s) throws(M.Failure) in try M.queryCode(s, option: "--purpose", defaultSystem: M.QuerySystem.purpose) },
                category: try M.queryCode(category, option: "--category", defaultSystem: M.QuerySystem.category),
                classes: try self.class.map { (s) throws(M.Failure) in try M.queryClass(s, option: "--class") },
                labels: try label.map { (s) throws(M.Failure) in
                    try M.queryCode(s, option: "--label", defaultSystem: ["U", "L", "M", "N", "R", "V"].contains(s) ? M.QuerySystem.confidentiality : M.QuerySystem.actCode)
                },
                codes: try code.map { (s) throws(M.Failure) in try M.queryCode(s, option: "--code", defaultSystem: nil) },
                at: try at.map { (s) throws(M.Failure) in try M.instant(s, pointer: "--at", end: false) })
        } catch {
            throw ValidationError("\(error.pointer): \(error.reason)")
        }
    }

    func validate() throws { _ = try terms() }

    func run() async throws {
        let terms = try terms()
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
        let query = ConsentQuery(
            patient: PatientPseudonym.derive(consortiumKey: consortiumKey, system: terms.patient.system, value: terms.patient.value),
            actors: terms.actors, purposes: terms.purposes, category: terms.category, classes: terms.classes, labels: terms.labels,
            codes: terms.codes, at: terms.at ?? header.time)
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
}
