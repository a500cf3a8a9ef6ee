import Foundation
import TestSupport

/// Locates ../shared (the corpus, vectors and definitions) from this file's path, so tests run from any
/// working directory.
enum Corpus {
    /// The repository root (the folder holding Package.swift).
    static let repoRoot: URL = Repository.root

    /// ../shared next to the repository.
    static let shared: URL = Repository.shared

    static let fhirExamples = shared.appendingPathComponent("corpus/fhir-r4-examples")
    static let syntheaBundles = shared.appendingPathComponent("corpus/synthea/bundles")
    static let syntheaBulk = shared.appendingPathComponent("corpus/synthea/bulk-ndjson")

    /// Sorted file names in `dir` with the given extension.
    static func files(in dir: URL, ext: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted()
    }

    static func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    /// Base names of the FHIR examples that exist as both NAME.json and NAME.xml.
    static var examplePairs: [String] {
        let json = Set(files(in: fhirExamples, ext: "json").map { String($0.dropLast(5)) })
        let xml = Set(files(in: fhirExamples, ext: "xml").map { String($0.dropLast(4)) })
        return json.intersection(xml).sorted()
    }
}
