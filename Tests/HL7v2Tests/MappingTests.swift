import FHIRCore
import Foundation
import HL7v2
import Mapping
import Testing
import TestSupport

@Suite struct MappingTests {
    static let mappings = Repository.root.appendingPathComponent("Mappings/hl7v2").path

    static func converter() throws -> HL7Converter {
        HL7Converter(mappings: try HL7MappingSet.load(directory: mappings))
    }

    @Test func theShippedMappingsLoad() throws {
        let set = try HL7MappingSet.load(directory: Self.mappings)
        #expect(set.messageTypes.contains("ADT^A01"))
    }

    @Test func corpusSmoke() throws {
        let converter = try Self.converter()
        let folder = Repository.shared.appendingPathComponent("corpus/hl7v2")
        var ok = 0, failed = 0, unsupported = 0
        for url in try CorpusTests.files() {
            let message = try HL7Message.parse([UInt8](try Data(contentsOf: url)))
            do {
                let result = try converter.convert(message)
                ok += 1
                _ = result
            } catch {
                if error.error.code == .unsupportedMessageType { unsupported += 1; continue }
                failed += 1
                print("FAIL \(url.lastPathComponent): \(error.issues.map(\.diagnostics).joined(separator: " | "))")
            }
        }
        _ = folder
        print("ok \(ok) failed \(failed) unsupported \(unsupported)")
    }
}
