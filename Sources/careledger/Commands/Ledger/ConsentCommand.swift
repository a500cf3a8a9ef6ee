import ArgumentParser
import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services

/// `careledger consent submit|revoke|query`.
struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Record FHIR Consents on the ledger and answer consent queries from it.",
        subcommands: [ConsentSubmitCommand.self, ConsentRevokeCommand.self, ConsentQueryCommand.self]
    )
}

/// `careledger consent submit FILE --home DIR --store URL`.
extension ConsentCommand {
    /// The consortium key (patient pseudonyms) and the running node's RPC port of the node home at `path`, which
    /// consent submit and revoke both need; exits 66 naming `command` when the home cannot give them.
    static func ledgerAccess(home path: String, command: String) throws -> (consortiumKey: [UInt8], port: Int) {
        let home = NodeHome(path)
        do {
            return (try home.consortiumKey(), try home.rpcPort())
        } catch {
            FileHandle.standardError.write(Data("careledger \(command): \(error)\n".utf8))
            throw ExitCode(66)
        }
    }
}

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
        let (consortiumKey, port) = try ConsentCommand.ledgerAccess(home: home, command: "consent submit")
        let store = try await storeOptions.open()
        let recorded: ConsentSubmission.Recorded
        do throws(ServiceError) {
            recorded = try await ConsentSubmission(store: store, consortiumKey: consortiumKey, ledger: RPCConsentLedger(port: port)).submit(resource)
        } catch {
            try? await store.close()
            // Refused: exit 1 with the OperationOutcome, nothing stored. The node could not be asked: 69, nothing
            // stored. The Consent is stored but its directive not recorded after the check: 75, submit again.
            throw ServiceErrorExit.exit(error, command: "consent submit", outcome: true)
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

    /// The query's terms, checked and qualified (``ConsentQuestion``); each option's mistake exits 64.
    func question() throws -> ConsentQuestion {
        do throws(ServiceError) {
            return try ConsentQuestion(patient: patient, actors: actor, purposes: purpose, category: category, classes: self.class,
                                       labels: label, codes: code, at: at)
        } catch {
            throw ValidationError(error.reason)
        }
    }

    func validate() throws { _ = try question() }

    func run() async throws {
        let question = try question()
        let home = NodeHome(self.home)
        let answers: ConsentAnswers
        do {
            answers = ConsentAnswers(chain: try await home.openChain(), consortiumKey: try home.consortiumKey())
        } catch {
            FileHandle.standardError.write(Data("careledger consent query: \(error)\n".utf8))
            throw ExitCode(66)
        }
        let answer: ConsentAnswer
        let header: BlockHeader
        var proof: ConsentProof?
        do throws(ServiceError) {
            // The same answer either way; a written proof also carries the entries, the commit and the light path.
            if prove != nil {
                let proven = try await answers.prove(question)
                (answer, header, proof) = (proven.answer, proven.header, proven)
            } else {
                let answered = try await answers.query(question)
                (answer, header) = (answered.answer, answered.header)
            }
        } catch {
            throw ServiceErrorExit.exit(error, command: "consent query")
        }
        if let prove, let proof { try ConsentJSON.encode(proof).write(to: URL(fileURLWithPath: prove)) }
        if json {
            Output.write(Array(try ConsentJSON.encode(ConsentJSON.response(answer, header: header))) + [10])
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
