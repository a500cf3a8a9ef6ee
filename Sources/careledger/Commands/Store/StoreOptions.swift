import ArgumentParser
import Foundation
import RecordStore

/// Options shared by the commands that open the record store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The record store: postgres://user@host:port/database, or an SQLite file (sqlite:PATH or a path without a URL scheme); any other scheme exits 64. Default: $CARELEDGER_STORE, else \(StoreLocation.defaultURL).",
                                            valueName: "URL"))
    var store: String = StoreOptions.environmentStore ?? StoreLocation.defaultURL

    /// `$CARELEDGER_STORE`, when set and not empty.
    static var environmentStore: String? { ProcessInfo.processInfo.environment["CARELEDGER_STORE"].flatMap { $0.isEmpty ? nil : $0 } }

    /// An unknown scheme is a usage error (exit 64) before anything is opened or created.
    func validate() throws {
        try Self.validate(store: store)
    }

    /// Checks a `--store` value (or `$CARELEDGER_STORE`, when that is where it came from): exit 64 naming the
    /// accepted forms.
    static func validate(store: String) throws {
        do {
            _ = try StoreLocation(parsing: store)
        } catch {
            let origin = store == environmentStore ? "$CARELEDGER_STORE" : "--store"
            throw ValidationError("\(origin): \(error)")
        }
    }

    func open() async throws -> any RecordStore {
        do {
            return try await StoreLocation.open(store)
        } catch let error as StoreLocationError {
            FileHandle.standardError.write(Data("careledger: --store: \(error)\n".utf8))
            throw ExitCode(64)
        } catch {
            FileHandle.standardError.write(Data("careledger: cannot open the store: \(error)\n".utf8))
            throw ExitCode(69)
        }
    }
}
