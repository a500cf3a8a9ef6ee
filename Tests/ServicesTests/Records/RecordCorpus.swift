import FHIRCore
import Foundation
import Services
import TestSupport
import Testing

/// Real resources from ../shared/corpus for the record use case tests.
enum RecordCorpus {
    static let bulk = Repository.shared.appendingPathComponent("corpus/synthea/bulk-ndjson")
    static let bundles = Repository.shared.appendingPathComponent("corpus/synthea/bundles")

    /// The first `n` lines of a Synthea bulk export file (`Patient`, `Practitioner`, …).
    static func lines(_ type: String, _ n: Int) throws -> [[UInt8]] {
        let data = try Data(contentsOf: bulk.appendingPathComponent("\(type).000.ndjson"))
        return data.split(separator: 0x0A).prefix(n).map { Array($0) }
    }

    /// The `index`-th resource of a bulk export file, parsed.
    static func resource(_ type: String, _ index: Int = 0) throws -> Resource {
        try JSONReader().read(try #require(try lines(type, index + 1).last))
    }

    /// The smallest Synthea transaction Bundle (70 entries: a patient, an organization, a practitioner and
    /// their encounters, observations, claims…, linked by urn:uuid fullUrls).
    static func smallestBundle() throws -> Resource {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: bundles.path).filter { $0.hasSuffix(".json") }
        let sized = try names.map { name -> (String, Int) in
            (name, (try fm.attributesOfItem(atPath: bundles.appendingPathComponent(name).path)[.size] as? Int) ?? .max)
        }
        let smallest = try #require(sized.min { $0.1 < $1.1 }).0
        return try JSONReader().read(Array(try Data(contentsOf: bundles.appendingPathComponent(smallest))))
    }

    /// The ServiceError a use case throws, or nil when it succeeds.
    static func failure<T>(_ body: () async throws -> T) async -> ServiceError? {
        do {
            _ = try await body()
            return nil
        } catch let error as ServiceError {
            return error
        } catch {
            Issue.record("a use case threw \(error), not a ServiceError")
            return ServiceError(.internal, "\(error)")
        }
    }

    static func text(_ r: StoredResource) -> String { String(decoding: r.canonical, as: UTF8.self) }
}
