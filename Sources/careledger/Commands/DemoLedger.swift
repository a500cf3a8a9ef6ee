import ArgumentParser
import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services

/// The demo's ledger part: a network of four validators (four providers' `careledger node start` processes, started
/// by ``LocalNetwork`` as `bench load` starts its network) runs consensus; the first provider's node anchors the
/// imported samples and serves the FHIR gateway, a receipt is printed and verified (and a tampered copy fails),
/// partner hospital B is refused the sample patient over the gateway, the sample Consent is recorded and queried,
/// and B is then served, then the providers share ventilators by an allocation contract (DemoContracts) — each step
/// through the same use case (`Services`) as the command it names.
extension DemoCommand {
    func ledgerDemo() async throws -> Int {
        let directory = URL(fileURLWithPath: homePath)
        print("")
        print("CareLedger demo — ledger: four providers' validators in \(homePath) run consensus; the first anchors \(storeOptions.store)")
        try initializeNetwork(in: directory)
        guard let binary = Bundle.main.executableURL else { throw ValidationError("cannot find this executable to start the validators") }
        let network = try LocalNetwork(directory: directory, binary: binary,
                                       arguments: ["--rpc-port", "0", "--block-interval-ms", "50", "--empty-block-ms", "1000", "--batch-delay-ms", "100"])
        defer { network.stopAll() }
        // The other three providers' validators only run consensus; the first also anchors the store.
        for k in 1..<network.count { try await network.start(k) }
        // The first also serves the FHIR gateway in its process (DemoGateway).
        try await network.start(0, arguments: ["--store", storeOptions.store, "--http", "127.0.0.1:\(basePort + 80)"])
        print("  node start  \(network.count) validator processes (careledger node start --home \(homePath)/nodeK; logs in nodeK/node.log);")
        print("              node0 also anchors the store and serves the FHIR gateway (--store \(storeOptions.store) --http 127.0.0.1:\(basePort + 80))")
        let home = network.homes[0]
        let store = try await storeOptions.open()
        var failures = try await waitForAnchoring(store)
        // A read-only view of the first node's chain beside the running node, as `careledger receipt` opens it.
        let chain = try await home.openChain()
        try await chain.refresh()
        print("  anchoring   \(try await store.versionCount()) record versions in \(await chain.state.anchors.count) batch(es) on chain, height \(await chain.height)")
        failures += try await receiptDemo(store: store, chain: chain, home: home)
        // Partner B is refused the sample patient before the sample Consent, and served after it.
        let consentPath = URL(fileURLWithPath: samples).appendingPathComponent("consent/consent-mira-treatment.json").path
        let consent = try FHIRDocument.read(try InputFile.read(consentPath)).resource
        let (visit, refusalFailures) = try await partnerRefused(store: store, network: network, consent: consent)
        failures += refusalFailures
        failures += try await consentDemo(store: store, ledger: RPCConsentLedger(port: try network.rpcPort(0)), home: home)
        if let visit { failures += try await partnerServed(visit, store: store, home: home) }
        failures += try await contractDemo(network: network)
        failures += try await consensusCheck(network)
        try await store.close()
        return failures
    }

    /// Makes the four providers' homes on the first run.
    func initializeNetwork(in directory: URL) throws {
        guard !FileManager.default.fileExists(atPath: directory.appendingPathComponent("node0/config/genesis.json").path) else { return }
        // The four providers of the sample network, on the demo's own chain id and ports.
        let sample = try Testnet.read(from: URL(fileURLWithPath: samples).appendingPathComponent("network/providers.spec"))
        let testnet = try Testnet(chainId: "careledger-demo", basePort: basePort, providers: sample.providers)
        let members = try testnet.initialize(in: directory, genesisTime: Date())
        print("  testnet init  chain \(testnet.chainId): " + members.map { "\($0.name) (power \($0.power), p2p :\($0.p2pPort))" }.joined(separator: ", "))
        print("                (careledger testnet init --spec \(samples)/network/providers.spec --dir DIR makes the same homes)")
    }

    /// Anchoring runs on its own; ingest never waited for it. Waits here until the queue is empty; returns failures.
    func waitForAnchoring(_ store: any RecordStore) async throws -> Int {
        let started = ContinuousClock.now
        while true {
            let queued = try await store.anchorQueueCount()
            let pending = try await store.pendingAnchorBatches().count
            if queued == 0 && pending == 0 { return 0 }
            if ContinuousClock.now - started > .seconds(60) {
                print("  anchoring   did not finish in 60 s")
                return 1
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// One receipt, the bulk sample patient's, as `careledger receipt` builds it; returns failures.
    func receiptDemo(store: any RecordStore, chain: Chain, home: NodeHome) async throws -> Int {
        guard let id = try await store.resolveIdentifier(type: "Patient", system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021").first else {
            print("  receipt     none for the sample patient MRN-40021")
            return 1
        }
        let issued: RecordReceipts.Issued
        do throws(ServiceError) {
            issued = try await RecordReceipts(store: store, chain: chain, refreshesChain: true).receipt(for: RecordKey(type: "Patient", id: id), version: nil)
        } catch {
            print("  receipt     none for Patient/\(id): \(error)")
            return 1
        }
        var failures = 0
        try showReceipt(issued, id: id, home: home, genesis: chain.genesis, failures: &failures)
        return failures
    }

    /// The sample patient's Consent goes to the store and, as a directive, to the ledger through the first node's
    /// RPC, as `consent submit` sends it; then four queries, each proven and the proof verified; returns failures.
    func consentDemo(store: any RecordStore, ledger: any ConsentLedger, home: NodeHome) async throws -> Int {
        var failures = 0
        print("")
        let consentPath = URL(fileURLWithPath: samples).appendingPathComponent("consent/consent-mira-treatment.json").path
        let consent = try FHIRDocument.read(try InputFile.read(consentPath)).resource
        let submission = ConsentSubmission(store: store, consortiumKey: try home.consortiumKey(), ledger: ledger)
        do throws(ServiceError) {
            let recorded = try await submission.submit(consent)
            print("  consent     \(recorded.stored.key) granted as directive \(Ledger.Hex.encode(recorded.directive.directiveId).prefix(16))… at height \(recorded.inclusion.height)")
        } catch where error.code == .conflict {
            print("  consent     Consent/\(consent.id ?? "") is already on the ledger (a second run)")
        } catch {
            print("  consent     NOT RECORDED: \(error)")
            failures += 1
        }
        print("              (careledger consent submit \(consentPath) --home \(home.root.path) --store \(storeOptions.store))")
        // Answered from the state the last header commits to (the node answered once a header carries the
        // directive), read from the first node's chain as `consent query` reads it.
        let chain = try await home.openChain()
        let answers = ConsentAnswers(chain: chain, consortiumKey: try home.consortiumKey())
        let treat = "TREAT", partner = "http://example.org/ids|partner-hospital-b", patient = "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021"
        let questions: [(String, ConsentQuestion, ConsentDecision)] = [
            ("partner B, TREAT", try ConsentQuestion(patient: patient, actors: [partner], purposes: [treat]), .permit),
            ("partner B, TREAT, MedicationStatement", try ConsentQuestion(patient: patient, actors: [partner], purposes: [treat], classes: ["MedicationStatement"]), .deny),
            ("partner B, HMARKT", try ConsentQuestion(patient: patient, actors: [partner], purposes: ["HMARKT"]), .noConsent),
            ("another hospital, TREAT", try ConsentQuestion(patient: patient, actors: ["http://example.org/ids|hospital-c"], purposes: [treat]), .noConsent),
        ]
        for (label, question, expected) in questions {
            let proof: ConsentProof
            do throws(ServiceError) {
                proof = try await answers.prove(question)
            } catch {
                print("  query       \(label): \(error)")
                failures += 1
                continue
            }
            // Checked as `careledger verify` checks the written proof.
            guard case .consentProof(_, let answer) = ReceiptVerification.verify(proof, document: Array(try ConsentJSON.encode(proof)), genesis: chain.genesis) else {
                print("  query       \(label): the proof does not verify")
                failures += 1
                continue
            }
            let redact = answer.obligations.map { "REDACT " + ($0.labels + $0.classes + $0.codes).joined(separator: ",") }.joined(separator: "; ")
            print("  query       \(label.padding(toLength: 40, withPad: " ", startingAt: 0)) \(answer.decision.rawValue)\(redact.isEmpty ? "" : " with \(redact)") (proof verified at height \(proof.header.height))")
            if answer.decision != expected { failures += 1 }
        }
        print("              (careledger consent query --home \(home.root.path) --patient \(patient) --actor \(partner) --purpose TREAT --prove proof.json)")
        return failures
    }

    /// Every validator holds the same chain: the same block at a height all have reached, read from each home's
    /// block store; returns failures.
    func consensusCheck(_ network: LocalNetwork) async throws -> Int {
        var chains: [Chain] = []
        for home in network.homes { chains.append(try await home.openChain()) }
        let reached = await chains[0].height
        let deadline = ContinuousClock.now + .seconds(60)
        var blockIds = Set<[UInt8]>()
        for chain in chains {
            while await chain.height < reached && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                try await chain.refresh()
            }
            blockIds.insert(try await chain.block(at: reached)?.block.header.id ?? [])
        }
        print("")
        print("  consensus   all \(network.count) validators hold block \(reached) with id \(blockIds.count == 1 ? Ledger.Hex.encode(blockIds.first ?? []).prefix(16) + "…" : "DIFFERENT IDS")")
        print("              (careledger node status --home \(homePath)/node2 --json --height \(reached))")
        return blockIds.count == 1 && blockIds.first?.isEmpty == false ? 0 : 1
    }

    /// Writes the receipt and record, verifies both offline as `careledger verify` does, and shows that a copy of the
    /// record with its birth date changed by one digit fails.
    func showReceipt(_ issued: RecordReceipts.Issued, id: String, home: NodeHome, genesis: Genesis, failures: inout Int) throws {
        let (receipt, record) = (issued.receipt, issued.record)
        let receiptFile = home.root.appendingPathComponent("receipt-patient.json")
        let recordFile = home.root.appendingPathComponent("record-patient.json")
        try ReceiptJSON.encode(receipt).write(to: receiptFile)
        try Data(record).write(to: recordFile)
        print("")
        print("  receipt     \(receipt.reference): leaf \(receipt.leafIndex) of \(receipt.treeSize), block \(receipt.header.height), written to \(receiptFile.path)")
        print("              (careledger receipt Patient/\(id) --store \(storeOptions.store) --home \(home.root.path))")
        if case .failed(let check, let reason) = ReceiptVerification.verify(receipt, genesis: genesis, record: record) {
            print("  verify      FAILED \(check): \(reason)")
            failures += 1
        } else {
            print("  verify      OK offline against genesis.json and the served record")
            print("              (careledger verify \(receiptFile.path) --genesis \(home.genesisFile.path) --record \(recordFile.path))")
        }
        // The same receipt for a record whose birth date was changed by one digit.
        var tampered = record
        if let at = Self.firstIndex(of: Array("1984-03-09".utf8), in: record) {
            tampered[at + 3] = UInt8(ascii: "5")
        } else {
            tampered[tampered.count / 2] ^= 1
        }
        if case .failed(let check, _) = ReceiptVerification.verify(receipt, genesis: genesis, record: tampered) {
            print("  tampered    record with birthDate 1985-03-09: FAILED \(check) (as it must)")
        } else {
            print("  tampered    ACCEPTED — this must not happen")
            failures += 1
        }
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
