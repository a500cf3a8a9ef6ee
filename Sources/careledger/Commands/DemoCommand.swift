import ArgumentParser
import FHIRCore
import Foundation
import HL7v2
import Ingest
import Mapping
import RecordStore
import Services

/// `careledger demo`: the main job, end to end on the samples. It grows with every capability.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk the samples in Samples/ through CareLedger and print what happened at each step.",
        discussion: """
            Today: every FHIR sample is read (JSON or XML), validated against the FHIR R4 definitions, converted \
            to the other format and back, canonicalized (the same canonical hash from both formats), and given a \
            salted record commitment — what the ledger will anchor. Then all of Samples/ (Bundles, XML, bulk \
            NDJSON, HL7 v2 messages and C-CDA documents converted through Mappings/) is imported into the record store (the embedded SQLite store unless --store says otherwise); \
            run it twice and the second import changes nothing. Then four validators (four providers' homes in \
            --home, each a `careledger node start` process of this binary) start consensus over authenticated P2P sessions, the first one anchors the \
            store and serves the FHIR gateway (node start --http 127.0.0.1:<base-port + 80>), one record's receipt is \
            printed and verified offline, and a tampered copy fails. Partner hospital B (its SMART client registered \
            on the ledger by its participant, its ES384 key in Samples/clients/) gets a token and is refused the \
            sample patient (403) before the sample Consent is recorded on the ledger and queried (each answer proven \
            against a block header), and served it (200) after; the AuditEvents of both accesses are read back from \
            the store, and the curl lines that do the same are printed. A second run, with the Consent already on the \
            ledger, shows the refusal for a purpose no Consent permits (HMARKT) instead. Exit 1 if any step fails.
            """
    )

    @Option(help: "The samples folder.")
    var samples: String = "Samples"

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .customLong("home"), help: "The demo network's directory: four validator homes node0–node3 (created on the first run).")
    var homePath: String = ".careledger/network"

    @Option(help: "The demo network's first P2P port (validator K listens on base+10K).")
    var basePort = 26_800

    func run() async throws {
        try await refuseStoreOfAnotherChain()
        let root = URL(fileURLWithPath: samples)
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else {
            throw ValidationError("no samples folder at '\(samples)'; run from the repository root or pass --samples DIR")
        }
        // HL7 v2 and C-CDA samples go through the mappings (mappingSamples), not the FHIR reader.
        let files = enumerator.compactMap { $0 as? String }
            .filter { ($0.hasSuffix(".json") || $0.hasSuffix(".xml")) && !$0.hasPrefix("ccda/") && !$0.hasPrefix("hl7v2/") }.sorted()
        print("CareLedger demo — record core on \(files.count) FHIR samples in \(samples)/")
        print("canonical form \(CanonicalForm.version); commitment = SHA-256(\"\(RecordCommitment.domainTag)\" ‖ salt ‖ SHA-256(canonical))")
        print("")
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        for file in files {
            let bytes = try InputFile.read(root.appendingPathComponent(file).path)
            do {
                let document = try FHIRDocument.read(bytes)
                let resource = document.resource
                let issues = Validator().validate(resource)
                let errors = issues.filter(\.isError)
                let canonical = try CanonicalForm.bytes(of: resource)
                let hash = CanonicalForm.sha256(canonical)
                // Through the other format and back: nothing may change.
                let other: FHIRFormat = document.format == .json ? .xml : .json
                let converted = other == .xml ? try XMLWriter().write(resource) : JSONWriter().write(resource)
                let back = try FHIRDocument.read(converted).resource
                let hashBack = try CanonicalForm.hash(of: back)
                let salt = RecordCommitment.freshSalt(using: &rng)
                let commitment = try RecordCommitment(resource: resource, salt: salt)
                let entries = resource.object["entry"]?.arrayValue?.count
                print("\(file)")
                print("  read        \(document.format.rawValue.uppercased()), \(resource.resourceType)\(entries.map { " with \($0) entries" } ?? ""), \(bytes.count) bytes")
                print("  validate    \(errors.isEmpty ? "ok" : "\(errors.count) error(s)")\(issues.count > errors.count ? ", \(issues.count - errors.count) warning(s)" : "")")
                for issue in errors.prefix(5) { print("              - \(issue.diagnostics) [\(issue.location.joined(separator: " "))]") }
                print("  canonical   \(canonical.count) bytes, SHA-256 \(Hex.encode(hash))")
                let sameTree = back == resource
                let sameContent = sameTree || XHTML.canonicalizingDivs(in: .object(back.object)) == XHTML.canonicalizingDivs(in: .object(resource.object))
                let treeVerdict = sameTree ? "identical tree" : sameContent ? "same tree, narrative div respelled" : "TREE DIFFERS"
                print("  round trip  \(document.format.rawValue.uppercased()) → \(other.rawValue.uppercased()) (\(converted.count) bytes) → back: \(treeVerdict), \(hashBack == hash ? "same canonical hash" : "HASH DIFFERS")")
                print("  commitment  \(Hex.encode(commitment.value)) (fresh salt \(Hex.encode(salt.prefix(4)))…)")
                if !errors.isEmpty || !sameContent || hashBack != hash { failures += 1 }
            } catch {
                failures += 1
                print("\(file)\n  REJECTED    \(error.description)")
            }
        }
        print("")
        print("\(files.count - failures) of \(files.count) samples passed every step")
        print("")
        failures += try mappingSamples()
        failures += try await importSamples()
        failures += try await ledgerDemo()
        if failures > 0 { throw ExitCode(1) }
    }

    /// Converts the HL7 v2 and C-CDA samples through Mappings/ and shows the ACK a live feed would send for each
    /// message; returns failures.
    func mappingSamples() throws -> Int {
        let root = URL(fileURLWithPath: samples)
        let hl7 = try MappingsLocation.converter(nil)
        let ccda = try MappingsLocation.ccdaConverter(nil)
        var failures = 0
        let hl7Files = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("hl7v2").path)) ?? []).filter { $0.hasSuffix(".hl7") }.sorted()
        print("CareLedger demo — HL7 v2 samples through Mappings/hl7v2 (careledger hl7 convert FILE prints each Bundle)")
        for name in hl7Files {
            let bytes = try InputFile.read(root.appendingPathComponent("hl7v2/\(name)").path)
            guard let file = try? HL7File.parse(bytes) else { failures += 1; print("hl7v2/\(name)\n  REJECTED    not HL7 v2"); continue }
            print("hl7v2/\(name)")
            for entry in file.entries {
                switch entry.result {
                case .failure(let error):
                    failures += 1
                    print("  REJECTED    message \(entry.number): \(error)")
                case .success(let message):
                    do {
                        let conversion = try hl7.convert(message)
                        let types = Dictionary(grouping: conversion.resources, by: \.resourceType).map { "\($0.value.count) \($0.key)" }.sorted()
                        let ack = HL7Acknowledgment.build(for: message, code: .accept, controlId: "DEMO\(entry.number)", timestamp: "20261201000000+0000")
                        let msa = String(decoding: ack, as: UTF8.self).split(separator: "\r").first { $0.hasPrefix("MSA") } ?? ""
                        print("  \(message.messageType ?? "?")^\(message.triggerEvent ?? "?") \(message.controlId ?? "")  →  \(types.joined(separator: ", ")); \(conversion.warnings.count) warning(s); ACK \(msa)")
                    } catch {
                        failures += 1
                        print("  REJECTED    \(error)")
                    }
                }
            }
        }
        let ccdaFiles = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("ccda").path)) ?? []).filter { $0.hasSuffix(".xml") }.sorted()
        print("")
        print("CareLedger demo — C-CDA samples through Mappings/ccda (careledger ccda convert FILE prints the Bundle)")
        for name in ccdaFiles {
            let bytes = try InputFile.read(root.appendingPathComponent("ccda/\(name)").path)
            do {
                let conversion = try ccda.convert(bytes)
                let types = Dictionary(grouping: conversion.resources, by: \.resourceType).map { "\($0.value.count) \($0.key)" }.sorted()
                print("ccda/\(name)\n  → \(types.joined(separator: ", ")); \(conversion.warnings.count) warning(s)\n  document SHA-256 \(conversion.sha256.prefix(16))… kept in its DocumentReference")
            } catch {
                failures += 1
                print("ccda/\(name)\n  REJECTED    \(error)")
            }
        }
        print("")
        return failures
    }

    /// Imports Samples/ into the store and checks one served record against its commitment; returns failures.
    func importSamples() async throws -> Int {
        print("CareLedger demo — import \(samples)/ into the record store \(storeOptions.store)")
        let store = try await storeOptions.open()
        let started = ContinuousClock.now
        var importer = Importer(store: store)
        importer.hl7 = try MappingsLocation.converter(nil)
        importer.ccda = try MappingsLocation.ccdaConverter(nil)
        let summary = try await importer.run(try ImportFiles.expand([samples]))
        print(ImportCommand.report(summary, seconds: (ContinuousClock.now - started).seconds, store: storeOptions.store))
        var failures = summary.rejected
        // The bulk sample's patient has no id and conditional references point at it: it got a deterministic id,
        // and the references were resolved to it.
        let ids = try await store.resolveIdentifier(type: "Patient", system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021")
        if let id = ids.first, let version = try await store.current(RecordKey(type: "Patient", id: id)) {
            let served = try JSONReader().read(version.canonical)
            let meta = served.object["meta"]?.objectValue
            // The verification use case `verify` and the gateway use: served bytes → canonical hash → commitment.
            let verified = ReceiptVerification.verify(stored: version).holds
            let observations = try await store.search(type: "Observation", param: "patient", value: "Patient/\(id)")
            print("")
            print("Patient/\(id) (deterministic id for MRN-40021), version \(meta?["versionId"]?.stringValue ?? "?"), lastUpdated \(meta?["lastUpdated"]?.stringValue ?? "?")")
            print("  served bytes → canonical hash \(Hex.encode(version.canonicalHash).prefix(16))…, commitment \(Hex.encode(version.commitment).prefix(16))… \(verified ? "verifies" : "DOES NOT VERIFY")")
            print("  \(observations.count) Observation(s) whose conditional subject reference resolved to it")
            if !verified || observations.count != 2 { failures += 1 }
        } else {
            print("the sample patient MRN-40021 was not found in the store")
            failures += 1
        }
        let versions = try await store.versionCount()
        let queued = try await store.anchorQueueCount()
        print("store: \(try await store.countsByType().reduce(0) { $0 + $1.count }) resources, \(versions) versions, \(queued) waiting to be anchored")
        try await store.close()
        return failures
    }
}

extension DemoCommand {
    /// The demo makes its network on the first run. A store whose batches an earlier chain anchored (an older
    /// demo, or a network folder deleted since) cannot be proven on a new chain, and the demo deletes no store:
    /// it says so, before it changes anything.
    func refuseStoreOfAnotherChain() async throws {
        let genesis = URL(fileURLWithPath: homePath).appendingPathComponent("node0/config/genesis.json")
        guard !FileManager.default.fileExists(atPath: genesis.path) else { return }
        let store = try await storeOptions.open()
        guard let first = try await store.anchorBatch(id: 1), let height = first.height else { return }
        FileHandle.standardError.write(Data("""
            careledger demo: the store \(storeOptions.store) holds batches anchored on a chain (the first at height \(height)) whose \
            validator homes are not in \(homePath), where this demo would start a new chain that cannot prove them. \
            Remove the store and that folder to start the demo over (with the defaults: rm -r .careledger), or pass \
            --store and --home for a new pair.

            """.utf8))
        throw ExitCode(78)
    }
}
