import Foundation
import FuzzTargets
import Testing
import TestSupport

/// Every fuzz target's properties on the inputs libFuzzer starts from: the saved hostile inputs in
/// `Fuzz/seeds/<target>/` (each a regression input of a defect once found), the shared corpus and the generated
/// seeds. A property that fails here is a finding the fuzzer would report at once.
@Suite struct FuzzTargetTests {
    static func files(in directory: URL, matching target: FuzzTarget? = nil) -> [URL] {
        let items = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        return items.filter { url in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && (target?.accepts(fileName: url.lastPathComponent) ?? true)
        }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func seedFiles(_ target: FuzzTarget) -> [URL] {
        files(in: Repository.root.appendingPathComponent("Fuzz/seeds/\(target.rawValue)"))
    }

    /// Runs `target` on each input; records every violation with the input's name. Returns how many were accepted.
    static func run(_ target: FuzzTarget, _ inputs: [(name: String, bytes: [UInt8])]) -> Int {
        var accepted = 0
        for input in inputs {
            do {
                if try target.run(input.bytes) { accepted += 1 }
            } catch {
                Issue.record("\(input.name): \(error)")
            }
        }
        return accepted
    }

    static func read(_ urls: [URL]) throws -> [(name: String, bytes: [UInt8])] {
        try urls.map { ($0.lastPathComponent, Array(try Data(contentsOf: $0))) }
    }

    @Test("the saved hostile inputs of every target keep every property", arguments: FuzzTarget.allCases)
    func savedSeeds(target: FuzzTarget) throws {
        let seeds = Self.seedFiles(target)
        #expect(!seeds.isEmpty, "Fuzz/seeds/\(target.rawValue) holds no seed")
        _ = Self.run(target, try Self.read(seeds))
    }

    @Test("generated receipts, proofs and ledger values are accepted and round-trip",
          arguments: [FuzzTarget.receiptJSON, .proofJSON, .ledgerDecode])
    func generatedSeeds(target: FuzzTarget) throws {
        let seeds = try GeneratedSeeds.seeds(for: target)
        #expect(seeds.count >= 2)
        let accepted = Self.run(target, seeds.map { ($0.name, $0.bytes) })
        #expect(accepted == seeds.count, "\(seeds.count - accepted) generated \(target.rawValue) seeds were refused")
    }

    @Test("the golden ledger encodings decode and re-encode to the same bytes")
    func goldenLedgerEncodings() throws {
        let url = Repository.root.appendingPathComponent("Tests/LedgerTests/golden-ledger-encoding.json")
        let golden = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String: String]])
        let selectors: [(prefix: String, type: String)] = [("tx/", "Transaction"), ("block-header", "BlockHeader"), ("commit", "CommitCertificate")]
        var inputs: [(name: String, bytes: [UInt8])] = []
        for (name, vector) in golden.sorted(by: { $0.key < $1.key }) {
            guard let selector = selectors.first(where: { name.hasPrefix($0.prefix) }), let hex = vector["encoding"] else { continue }
            let index = try #require(FuzzTarget.ledgerSelector(for: selector.type))
            inputs.append((name, [index] + Self.hex(hex)))
        }
        #expect(inputs.count >= 7)
        #expect(Self.run(.ledgerDecode, inputs) == inputs.count)
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = s.utf8.makeIterator()
        while let hi = chars.next(), let lo = chars.next() {
            out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16) ?? 0)
        }
        return out
    }

    @Test("the FHIR R4 examples keep the reader properties", arguments: [FuzzTarget.fhirJSON, .fhirXML])
    func fhirExamples(target: FuzzTarget) throws {
        let examples = Self.files(in: Repository.shared.appendingPathComponent("corpus/fhir-r4-examples"), matching: target)
        #expect(examples.count > 100)
        let accepted = Self.run(target, try Self.read(examples))
        // Every example is FHIR R4 the readers accept.
        #expect(accepted == examples.count)
    }

    @Test("Synthea bundles keep the JSON reader properties")
    func syntheaBundles() throws {
        let bundles = Array(Self.files(in: Repository.shared.appendingPathComponent("corpus/synthea/bundles"), matching: .fhirJSON).prefix(4))
        #expect(bundles.count == 4)
        #expect(Self.run(.fhirJSON, try Self.read(bundles)) == bundles.count)
    }

    @Test("the HL7 v2 corpus keeps the ER7 properties and frames through MLLP", arguments: [FuzzTarget.hl7ER7, .mllpFrame])
    func hl7Corpus(target: FuzzTarget) throws {
        let messages = Self.files(in: Repository.shared.appendingPathComponent("corpus/hl7v2"), matching: target)
        #expect(messages.count > 100)
        var inputs = try Self.read(messages)
        if target == .mllpFrame {
            // Framed the way senders frame them, with the stray CR/LF some senders put between frames.
            inputs = inputs.map { ($0.name, [0x0B] + $0.bytes + [0x1C, 0x0D, 0x0A, 0x0B] + $0.bytes.prefix(40) + [0x1C, 0x0D]) }
        }
        let accepted = Self.run(target, inputs)
        // A few corpus messages are refused by design (their tests say why); most must be accepted.
        #expect(accepted * 10 >= messages.count * 9, "\(accepted) of \(messages.count) accepted")
    }

    @Test("C-CDA documents from the corpus convert to Bundles that re-read the same")
    func ccdaCorpus() throws {
        let documents = Array(Self.files(in: Repository.shared.appendingPathComponent("corpus/ccda"), matching: .ccdaXML).prefix(12))
        #expect(documents.count == 12)
        let accepted = Self.run(.ccdaXML, try Self.read(documents))
        #expect(accepted >= documents.count / 2, "\(accepted) of \(documents.count) converted")
    }

    @Test("every target has a summary and a distinct name")
    func targetNames() {
        let names = FuzzTarget.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(names == ["fhir-json", "fhir-xml", "hl7-er7", "ccda-xml", "receipt-json", "proof-json", "ledger-decode", "mllp-frame"])
        #expect(FuzzTarget.allCases.allSatisfy { !$0.summary.isEmpty })
    }
}
