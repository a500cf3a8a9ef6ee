import FHIRCore
import Foundation
import HL7v2
import Mapping

/// The mapping sets the conversion targets use: the repository's own `Mappings/`, found from this file's place in
/// the source tree, or `CARELEDGER_MAPPINGS` when set. Loaded once; a failure to load is reported on every input.
enum Mappings {
    static let directory: String = {
        if let set = ProcessInfo.processInfo.environment["CARELEDGER_MAPPINGS"], !set.isEmpty { return set }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Mappings").path
    }()

    static let hl7: Result<HL7Converter, MappingError> = Result { () throws(MappingError) in
        HL7Converter(mappings: try HL7MappingSet.load(directory: directory + "/hl7v2"))
    }

    static let ccda: Result<CCDAConverter, MappingError> = Result { () throws(MappingError) in
        CCDAConverter(mappings: try CCDAMappingSet.load(directory: directory + "/ccda"))
    }
}

/// A converted Bundle, written as JSON, must read back to the same canonical form: what an import would store.
func checkBundleRoundTrip(_ bundle: FHIRValue, target: FuzzTarget) throws(FuzzViolation) {
    let canonical: [UInt8]
    do throws(FHIRError) {
        canonical = try CanonicalForm.bytes(of: bundle)
    } catch {
        throw FuzzViolation(target, "a converted Bundle has a canonical form", "\(error)")
    }
    let json = JSONWriter().write(bundle)
    let again: FHIRDocument
    do throws(FHIRError) {
        again = try FHIRDocument.read(json)
    } catch {
        throw FuzzViolation(target, "a converted Bundle reads back as FHIR JSON", "\(error)")
    }
    guard (try? CanonicalForm.bytes(of: again.resource)) == canonical else {
        throw FuzzViolation(target, "a converted Bundle re-reads to the same canonical bytes", preview(json))
    }
}

enum HL7Properties {
    static func check(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        guard let message = try? HL7Message.parse(bytes) else { return false }
        let encoded = message.encoded()
        guard encoded == bytes else {
            throw FuzzViolation(.hl7ER7, "an accepted message encodes back to its input", "got \(preview(encoded))")
        }
        let normalized = message.encoded(segmentTerminator: [0x0D])
        let again: HL7Message
        do throws(HL7Error) {
            again = try HL7Message.parse(normalized)
        } catch {
            throw FuzzViolation(.hl7ER7, "the message with CR terminators parses", "\(error) in \(preview(normalized))")
        }
        guard again.segmentCount == message.segmentCount,
              again.encoded(segmentTerminator: [0x0D]) == normalized else {
            throw FuzzViolation(.hl7ER7, "the message with CR terminators has the same segments",
                                "\(message.segmentCount) segments became \(again.segmentCount)")
        }
        guard case .success(let converter) = Mappings.hl7 else {
            throw FuzzViolation(.hl7ER7, "the HL7 mappings load", "\(Mappings.hl7) from \(Mappings.directory)")
        }
        guard let conversion = try? converter.convert(message) else { return true }
        try checkBundleRoundTrip(conversion.bundle, target: .hl7ER7)
        return true
    }
}

enum CCDAProperties {
    static func check(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        guard case .success(let converter) = Mappings.ccda else {
            throw FuzzViolation(.ccdaXML, "the C-CDA mappings load", "\(Mappings.ccda) from \(Mappings.directory)")
        }
        guard let conversion = try? converter.convert(bytes) else { return false }
        try checkBundleRoundTrip(conversion.bundle, target: .ccdaXML)
        let validator = Validator()
        for resource in conversion.resources {
            if let issue = validator.validate(resource).first(where: \.isError) {
                throw FuzzViolation(.ccdaXML, "every converted resource is valid FHIR R4",
                                    "\(resource.resourceType): \(issue.diagnostics) at \(issue.location)")
            }
        }
        return true
    }
}
