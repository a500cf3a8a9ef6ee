import FHIRCore
import Foundation
import Ingest
import Ledger
import Node
import RecordStore
import Testing
import TestSupport

/// The PHI of a corpus, read with Foundation's JSON parser (independently of CareLedger's reader): every human
/// name part, identifier value, address part, telecom value and birth date anywhere in its resources.
struct PHICatalog {
    var values = Set<String>()

    mutating func collect(_ v: Any, key: String? = nil) {
        if let o = v as? [String: Any] {
            for (k, child) in o {
                switch k {
                case "birthDate", "deceasedDateTime":
                    if let s = child as? String { values.insert(s) }
                case "identifier":
                    for i in (child as? [Any]) ?? [child] {
                        if let value = (i as? [String: Any])?["value"] as? String { values.insert(value) }
                    }
                case "name":
                    for n in (child as? [Any]) ?? [] {
                        guard let name = n as? [String: Any] else { continue }
                        for part in ["family", "text"] { if let s = name[part] as? String { values.insert(s) } }
                        for part in ["given", "prefix", "suffix"] { for s in (name[part] as? [String]) ?? [] { values.insert(s) } }
                    }
                case "address":
                    for a in (child as? [Any]) ?? [child] {
                        guard let address = a as? [String: Any] else { continue }
                        for part in ["city", "district", "postalCode", "text"] { if let s = address[part] as? String { values.insert(s) } }
                        for s in (address["line"] as? [String]) ?? [] { values.insert(s) }
                    }
                case "telecom":
                    for t in (child as? [Any]) ?? [] {
                        if let s = (t as? [String: Any])?["value"] as? String { values.insert(s) }
                    }
                default:
                    break
                }
                collect(child, key: k)
            }
        } else if let a = v as? [Any] {
            for x in a { collect(x, key: key) }
        }
    }

    /// Where any value occurs in `bytes`: values of 5 bytes or more anywhere; shorter ones as a whole word of a
    /// printable run (a 3-byte name matches random hash bytes too often to be searched for alone). Short values made
    /// only of digits (a house number, "80") are left out: they identify nobody, and a word of two digits turns up
    /// between random hash bytes often enough to fail one run in a few.
    func occurrences(in bytes: [UInt8]) -> [String] {
        var found: [String] = []
        let long = values.filter { $0.utf8.count >= 5 }
        let short = Set(values.filter { $0.utf8.count < 5 && !$0.isEmpty && !$0.allSatisfy(\.isNumber) })
        let data = Data(bytes)
        for v in long where data.range(of: Data(v.utf8)) != nil { found.append(v) }
        // Printable runs, split into words.
        var run: [UInt8] = []
        func flush() {
            if run.count >= 2 {
                let text = String(decoding: run, as: UTF8.self)
                for word in text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) where short.contains(String(word)) { found.append(String(word)) }
            }
            run.removeAll(keepingCapacity: true)
        }
        for b in bytes {
            if b >= 0x20 && b < 0x7F { run.append(b) } else { flush() }
        }
        flush()
        return found
    }
}

@Suite("No PHI on the chain", .timeLimit(.minutes(5)))
struct PHIScanTests {
    @Test func theBlockStoreAndStateHoldNoNameIdentifierAddressOrBirthDateOfTheCorpus() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let bundles = try Corpus.syntheaBundles(100)
            let summary = try await Corpus.importFiles(bundles, into: store)
            #expect(summary.rejected == 0)
            var catalog = PHICatalog()
            var patients: [(id: String, system: String, value: String)] = []
            for path in bundles {
                let bundle = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                catalog.collect(bundle)
                for entry in ((bundle as? [String: Any])?["entry"] as? [[String: Any]]) ?? [] {
                    guard let r = entry["resource"] as? [String: Any], r["resourceType"] as? String == "Patient", let id = r["id"] as? String,
                          let identifier = (r["identifier"] as? [[String: Any]])?.first(where: { $0["system"] != nil && $0["value"] != nil }) else { continue }
                    patients.append((id, identifier["system"] as? String ?? "", identifier["value"] as? String ?? ""))
                }
            }
            #expect(catalog.values.count > 300)
            #expect(patients.count == bundles.count)

            let chain = try await t.open()
            let producer = producing(chain)
            defer { producer.cancel() }
            let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 500, maxDelayMillis: 0))
            try await anchoring.drain()
            #expect(try await store.anchorQueueCount() == 0)

            // A Consent per patient (a reference to the stored Patient, resolved to its identifier), one revoked.
            let consortiumKey = [UInt8](repeating: 0x42, count: 32)
            for (n, p) in patients.enumerated() {
                let json = """
                    {"resourceType":"Consent","id":"consent-\(p.id)","status":"\(n == 0 ? "inactive" : "active")",
                     "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
                     "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
                     "patient":{"reference":"Patient/\(p.id)"},"dateTime":"2025-02-01T10:00:00Z",
                     "policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},
                     "provision":{"type":"permit","actor":[{"role":{"coding":[{"code":"IRCP"}]},"reference":{"identifier":{"system":"http://example.org/ids","value":"partner-b"}}}],
                       "purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}],
                       "provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}]}}
                    """
                let consent = try FHIRDocument.read(Array(json.utf8)).resource
                let record = try PreparedRecord(resource: consent)
                _ = try await store.commit([record], batch: nil)
                let stored = try #require(try await store.current(record.key))
                if n == 0 {
                    // Granted first, then revoked.
                    let granted = try FHIRDocument.read(Array(json.replacingOccurrences(of: #""status":"inactive""#, with: #""status":"active""#).utf8)).resource
                    let grant = try ConsentMapping.directive(from: granted, consortiumKey: consortiumKey, consentCommitment: stored.commitment,
                                                             issuedFallback: 0, resolvePatient: { _ in (p.system, p.value) })
                    _ = try await chain.submit(.consentDirective(grant))
                }
                let directive = try ConsentMapping.directive(from: consent, consortiumKey: consortiumKey, consentCommitment: stored.commitment,
                                                             issuedFallback: 0, resolvePatient: { _ in (p.system, p.value) })
                let tx = try await chain.submit(.consentDirective(directive))
                #expect(await chain.inclusion(of: tx.hash).result == .ok)
            }
            try await anchoring.drain()  // the Consents' own versions
            #expect(await chain.state.consents.count == patients.count)

            // Every byte the node keeps: its data directory, and every state entry as encoded in the state tree.
            var scanned = 0
            var hits: [String] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: t.dir.path) {
                let bytes = Array(try Data(contentsOf: t.dir.appendingPathComponent(name)))
                scanned += bytes.count
                hits += catalog.occurrences(in: bytes).map { "\(name): \($0)" }
            }
            let state = await chain.state
            var stateBytes: [UInt8] = []
            for p in state.participants.values { stateBytes += p.encoded }
            for a in state.anchors.values { stateBytes += a.encoded }
            for c in state.consents.values { stateBytes += c.encoded }
            for (p, ids) in state.patientDirectives { stateBytes += p + ids.flatMap { $0 } }
            scanned += stateBytes.count
            hits += catalog.occurrences(in: stateBytes).map { "state: \($0)" }
            #expect(scanned > 10_000)
            #expect(hits.isEmpty, "PHI found on the chain: \(hits.prefix(20))")

            // The scan finds PHI where it is: in the store's own file.
            let sqlite = try await store.version(RecordKey(type: "Patient", id: patients[0].id), 1)
            #expect(!catalog.occurrences(in: try #require(sqlite).canonical).isEmpty)
        }
    }
}
