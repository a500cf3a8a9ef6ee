import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore

/// The demo's ledger part: a network of four validators (four providers, in this process) runs consensus in the
/// background; the first provider's node anchors the imported samples, a receipt is printed and verified (and a
/// tampered copy fails), and the sample Consent is recorded and queried.
extension DemoCommand {
    func ledgerDemo() async throws -> Int {
        var failures = 0
        let directory = URL(fileURLWithPath: homePath)
        print("")
        print("CareLedger demo — ledger: four providers' validators in \(homePath) run consensus; the first anchors \(storeOptions.store)")
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("node0/config/genesis.json").path) {
            // The four providers of the sample network, on the demo's own chain id and ports.
            let sample = try Testnet.read(from: URL(fileURLWithPath: samples).appendingPathComponent("network/providers.spec"))
            let testnet = try Testnet(chainId: "careledger-demo", basePort: basePort, providers: sample.providers)
            let members = try testnet.initialize(in: directory, genesisTime: Date())
            print("  testnet init  chain \(testnet.chainId): " + members.map { "\($0.name) (power \($0.power), p2p :\($0.p2pPort))" }.joined(separator: ", "))
            print("                (careledger testnet init --spec \(samples)/network/providers.spec --dir DIR makes the same homes)")
        }
        let homes = (0..<4).map { NodeHome(directory.appendingPathComponent("node\($0)").path) }
        let home = homes[0]
        let store = try await storeOptions.open()
        var settings = NodeService.Settings()
        settings.rpcPort = 0
        settings.blockIntervalMillis = 50
        settings.emptyBlockMillis = 1_000
        settings.anchoring = AnchoringService.Settings(maxLeaves: 10_000, maxDelayMillis: 100)
        // The other three providers' validators, in the background (no store: they only run consensus).
        var peers: [NodeService] = []
        for other in homes.dropFirst() {
            peers.append(try await NodeService.start(home: other, store: nil, settings: settings))
        }
        let node = try await NodeService.start(home: home, store: store, settings: settings)
        let genesis = node.chain.genesis
        print("  node start  4 validators, height \(await node.chain.height) after replay; \(genesis.validators[0].name)'s RPC on 127.0.0.1:\(node.rpc.port)")
        var waited = 0
        while await (node.consensus?.connectedPeers.count ?? 0) < 3 && waited < 200 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        print("              connected to \(await node.consensus?.connectedPeers.count ?? 0) peers over authenticated P2P sessions")

        // Anchoring runs on its own; ingest never waited for it. Wait here until the queue is empty.
        let started = ContinuousClock.now
        while true {
            let queued = try await store.anchorQueueCount()
            let pending = try await store.pendingAnchorBatches().count
            if queued == 0 && pending == 0 { break }
            if ContinuousClock.now - started > .seconds(60) {
                print("  anchoring   did not finish in 60 s")
                failures += 1
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let anchors = await node.chain.state.anchors.count
        print("  anchoring   \(try await store.versionCount()) record versions in \(anchors) batch(es) on chain, height \(await node.chain.height)")

        // One receipt: the bulk sample patient.
        let ids = try await store.resolveIdentifier(type: "Patient", system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021")
        if let id = ids.first,
           case .receipt(let receipt, let record) = try await ReceiptBuilder.build(RecordKey(type: "Patient", id: id), version: nil, store: store,
                                                                                 chain: node.chain) {
            let receiptFile = home.root.appendingPathComponent("receipt-patient.json")
            let recordFile = home.root.appendingPathComponent("record-patient.json")
            try ReceiptJSON.encode(receipt).write(to: receiptFile)
            try Data(record).write(to: recordFile)
            print("")
            print("  receipt     \(receipt.reference): leaf \(receipt.leafIndex) of \(receipt.treeSize), block \(receipt.header.height), written to \(receiptFile.path)")
            print("              (careledger receipt Patient/\(id) --store \(storeOptions.store) --home \(home.root.path))")
            do throws(Receipt.Failure) {
                try receipt.verify(chainId: genesis.chainId, validators: genesis.validatorSet, record: record)
                print("  verify      OK offline against genesis.json and the served record")
                print("              (careledger verify \(receiptFile.path) --genesis \(home.genesisFile.path) --record \(recordFile.path))")
            } catch {
                print("  verify      FAILED \(error)")
                failures += 1
            }
            // The same receipt for a record whose birth date was changed by one digit.
            var tampered = record
            if let at = Self.firstIndex(of: Array("1984-03-09".utf8), in: record) {
                tampered[at + 3] = UInt8(ascii: "5")
            } else {
                tampered[tampered.count / 2] ^= 1
            }
            do throws(Receipt.Failure) {
                try receipt.verify(chainId: genesis.chainId, validators: genesis.validatorSet, record: tampered)
                print("  tampered    ACCEPTED — this must not happen")
                failures += 1
            } catch {
                print("  tampered    record with birthDate 1985-03-09: FAILED \(error.check) (as it must)")
            }
        } else {
            print("  receipt     none for the sample patient MRN-40021")
            failures += 1
        }

        // Consent: the sample patient's Consent goes to the store and, as a directive, to the ledger.
        print("")
        let consentPath = URL(fileURLWithPath: samples).appendingPathComponent("consent/consent-mira-treatment.json").path
        let consent = try FHIRDocument.read(try InputFile.read(consentPath)).resource
        // The same use case as `consent submit`: checked, then stored, then recorded, here on this process's chain.
        let submission = ConsentSubmission(store: store, consortiumKey: try home.consortiumKey(), ledger: node.chain)
        do {
            let recorded = try await submission.submit(consent)
            print("  consent     \(recorded.stored.key) granted as directive \(Ledger.Hex.encode(recorded.directive.directiveId).prefix(16))… at height \(recorded.inclusion.height)")
        } catch let error as ConsentSubmissionError where error.ledgerRefusal?.code == .duplicateDirective {
            print("  consent     Consent/\(consent.id ?? "") is already on the ledger (a second run)")
        } catch let error as ConsentSubmissionError {
            print("  consent     NOT RECORDED: \(error)")
            failures += 1
        }
        print("              (careledger consent submit \(consentPath) --home \(home.root.path) --store \(storeOptions.store))")
        // Queries are answered from the state the last block's header commits to: wait for one more block.
        await node.chain.nextBlock()
        let key = try home.consortiumKey()
        let patient = PatientPseudonym.derive(consortiumKey: key, system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021")
        let partner = "http://example.org/ids|partner-hospital-b"
        let reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason|"
        if let tip = await node.chain.provableTip {
            // At the block's time, never the wall clock.
            let at = tip.block.block.header.time
            let questions: [(String, ConsentQuery, ConsentDecision)] = [
                ("partner B, TREAT", ConsentQuery(patient: patient, actors: [partner], purposes: [reason + "TREAT"], at: at), .permit),
                ("partner B, TREAT, MedicationStatement", ConsentQuery(patient: patient, actors: [partner], purposes: [reason + "TREAT"], classes: ["MedicationStatement"], at: at), .deny),
                ("partner B, HMARKT", ConsentQuery(patient: patient, actors: [partner], purposes: [reason + "HMARKT"], at: at), .noConsent),
                ("another hospital, TREAT", ConsentQuery(patient: patient, actors: ["http://example.org/ids|hospital-c"], purposes: [reason + "TREAT"], at: at), .noConsent),
            ]
            // The light path from the genesis validators, when the validator set changed since (none in this demo).
            let light = try await ReceiptBuilder.lightEvidence(to: tip.block.block.header.height, in: node.chain)
            for (label, query, expected) in questions {
                let proof = try ConsentProof.make(state: tip.state, query: query, header: tip.block.block.header, commit: tip.block.commit,
                                                  lightPath: light.lightPath, validators: light.validators)
                let answer = try proof.verify(chainId: genesis.chainId, validators: genesis.validatorSet)
                let redact = answer.obligations.map { "REDACT " + ($0.labels + $0.classes + $0.codes).joined(separator: ",") }.joined(separator: "; ")
                print("  query       \(label.padding(toLength: 40, withPad: " ", startingAt: 0)) \(answer.decision.rawValue)\(redact.isEmpty ? "" : " with \(redact)") (proof verified at height \(tip.block.block.header.height))")
                if answer.decision != expected { failures += 1 }
            }
            print("              (careledger consent query --home \(home.root.path) --patient urn:oid:2.16.840.1.113883.4.7.1|MRN-40021 --actor \(partner) --purpose TREAT --prove proof.json)")
        } else {
            failures += 1
        }
        // Every validator holds the same chain: the same block and app hash at a height all have reached.
        let reached = await node.chain.height
        for peer in peers { await peer.chain.waitFor(height: reached) }
        var blockIds = Set<[UInt8]>()
        for chain in [node.chain] + peers.map(\.chain) {
            if let block = try await chain.block(at: reached) { blockIds.insert(block.block.header.id) }
        }
        print("")
        print("  consensus   all 4 validators hold block \(reached) with id \(blockIds.count == 1 ? Ledger.Hex.encode(blockIds.first ?? []).prefix(16) + "…" : "DIFFERENT IDS")")
        print("              (careledger node status --home \(homePath)/node2 --json --height \(reached))")
        if blockIds.count != 1 { failures += 1 }
        await node.stop()
        for peer in peers { await peer.stop() }
        try await store.close()
        return failures
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
