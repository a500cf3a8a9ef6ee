import ArgumentParser
import FHIRCore
import Foundation
import Services

/// The command line's one mapping of the application layer's errors: the reason on standard error as
/// `careledger COMMAND: …`, the OperationOutcome on standard output for commands that take FHIR input (README,
/// "Command line": exit 1 prints what and where), and the exit code ``ServiceError/exitCode`` documents.
enum ServiceErrorExit {
    /// Prints `error` and returns the exit to throw. `outcome`: the command reads a FHIR resource, so its
    /// OperationOutcome goes to standard output. `exitCodes`: a command's own documented code for one kind of
    /// failure where it differs from the general table (`receipt`: a record not in the store exits 1).
    static func exit(_ error: ServiceError, command: String, outcome: Bool = false, exitCodes: [ServiceError.Code: Int32] = [:]) -> ExitCode {
        if outcome { Output.write(JSONWriter(style: .pretty).write(.object(error.operationOutcome.resource))) }
        FileHandle.standardError.write(Data("careledger \(command): \(error.reason)\n".utf8))
        return ExitCode(exitCodes[error.code] ?? error.exitCode)
    }
}
