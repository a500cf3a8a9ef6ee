import FHIRCore

/// The input of `fhir convert`, `fhir canonical` and `fhir hash`: read and validated as `fhir validate` does, so
/// nothing the validator refuses is converted or hashed. A refusal prints the same OperationOutcome that
/// `fhir validate` prints and exits 1; a file that cannot be read exits 66.
enum ValidatedInput {
    /// The resource in `path` ('-' for standard input).
    static func document(_ path: String) throws -> FHIRDocument {
        let bytes = try InputFile.read(path)
        do throws(FHIRDocument.Rejection) {
            return try FHIRDocument.readValidated(bytes)
        } catch {
            Output.reject(error.outcome)
        }
    }

    /// The canonical bytes of the resource in `path` ('-' for standard input).
    static func canonicalBytes(_ path: String) throws -> [UInt8] {
        let bytes = try InputFile.read(path)
        do throws(FHIRDocument.Rejection) {
            return try FHIRDocument.validatedCanonicalBytes(bytes)
        } catch {
            Output.reject(error.outcome)
        }
    }
}
