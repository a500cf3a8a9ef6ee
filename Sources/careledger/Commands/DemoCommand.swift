import ArgumentParser
import FHIRCore
import Foundation

/// `careledger demo`: the main job, end to end on the samples. It grows with every capability.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk the samples in Samples/ through CareLedger and print what happened at each step.",
        discussion: """
            Today: every FHIR sample is read (JSON or XML), validated against the FHIR R4 definitions, converted \
            to the other format and back, canonicalized (the same canonical hash from both formats), and given a \
            salted record commitment — what the ledger will anchor. Exit 1 if any step fails.
            """
    )

    @Option(help: "The samples folder.")
    var samples: String = "Samples"

    func run() throws {
        let root = URL(fileURLWithPath: samples)
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else {
            throw ValidationError("no samples folder at '\(samples)'; run from the repository root or pass --samples DIR")
        }
        let files = enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") || $0.hasSuffix(".xml") }.sorted()
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
                let errors = issues.filter { $0.severity == "error" || $0.severity == "fatal" }
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
        if failures > 0 { throw ExitCode(1) }
    }
}
