import FHIRCore

/// FHIR JSON and XML: what the readers accept must survive the writers.
enum FHIRProperties {
    static func check(_ bytes: [UInt8], target: FuzzTarget) throws(FuzzViolation) -> Bool {
        guard let format = FHIRFormat.detect(bytes) else { return false }
        guard let document = try? FHIRDocument.read(bytes) else { return false }
        let resource = document.resource
        // A resource the canonical form cannot encode is refused by every command that hashes; nothing to compare.
        guard let canonical = try? CanonicalForm.bytes(of: resource) else { return true }

        // JSON is also read as a tape, as import reads it: the tape and the tree must give the same canonical bytes,
        // and validating either must find the same issues.
        if format == .json, let tape = try? JSONReader().readTape(bytes), (try? tape.requireResource()) != nil {
            if let fromTape = try? CanonicalForm.bytes(of: tape), fromTape != canonical {
                throw FuzzViolation(target, "the tape and the tree give the same canonical bytes",
                                    "tape \(preview(fromTape)) ≠ tree \(preview(canonical))")
            }
            let validator = Validator()
            let fromTape = validator.validate(tape)
            let fromTree = validator.validate(resource)
            if fromTape != fromTree {
                throw FuzzViolation(target, "validating the tape and the tree finds the same issues",
                                    "tape \(fromTape.map { "\($0.location) \($0.diagnostics)" }) ≠ tree \(fromTree.map { "\($0.location) \($0.diagnostics)" })")
            }
        }

        let json = JSONWriter().write(resource)
        try same(canonical, reread: json, as: "JSON", target: target)

        // The other format only for resources the validator accepts: XML cannot carry every JSON shape (a null, an
        // array where one value belongs), and those are refused by validation.
        guard !FHIRDocument.validate(bytes).hasErrors else { return true }
        let xml: [UInt8]
        do throws(FHIRError) {
            xml = try XMLWriter().write(resource)
        } catch {
            throw FuzzViolation(target, "a valid resource can be written as XML", "\(error)")
        }
        try same(canonical, reread: xml, as: "XML", target: target)
        for (name, written) in [("JSON", json), ("XML", xml)] {
            let outcome = FHIRDocument.validate(written)
            if let issue = outcome.issues.first(where: \.isError) {
                throw FuzzViolation(target, "a valid resource stays valid when written as \(name)", "\(issue.diagnostics) at \(issue.location)")
            }
        }
        return true
    }

    private static func same(_ canonical: [UInt8], reread written: [UInt8], as name: String, target: FuzzTarget) throws(FuzzViolation) {
        let again: FHIRDocument
        do throws(FHIRError) {
            again = try FHIRDocument.read(written)
        } catch {
            throw FuzzViolation(target, "what the \(name) writer writes reads back", "\(error) in \(preview(written))")
        }
        let second: [UInt8]
        do throws(FHIRError) {
            second = try CanonicalForm.bytes(of: again.resource)
        } catch {
            throw FuzzViolation(target, "the \(name) re-read has a canonical form", "\(error)")
        }
        if second != canonical {
            throw FuzzViolation(target, "the \(name) re-read has the same canonical bytes",
                                "before \(preview(canonical)) after \(preview(second))")
        }
    }
}
