public import Foundation

/// A directory holding the PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`).
public struct PostgresBinaries: Sendable, Hashable {
    /// The programs a throwaway server needs.
    public static let requiredPrograms = ["initdb", "pg_ctl", "postgres"]
    /// The environment variable that names the directory explicitly.
    public static let environmentVariable = "CARELEDGER_PG_BINDIR"
    /// How to get the binaries on Debian 12, the project's machine.
    public static let installHint = "install them with `apt-get install -y postgresql-15` (Debian 12), "
        + "or set \(environmentVariable) to a directory that holds initdb, pg_ctl and postgres"

    public let directory: String

    public var initdb: String { directory + "/initdb" }
    public var pgCtl: String { directory + "/pg_ctl" }
    public var postgres: String { directory + "/postgres" }

    /// Uses `directory`, which must hold every program in `requiredPrograms`.
    public init(directory: String) throws(PostgresServerError) {
        let missing = Self.missingPrograms(in: directory)
        guard missing.isEmpty else {
            throw PostgresServerError(
                "\(directory) does not hold the PostgreSQL server program(s) \(missing.joined(separator: ", ")): "
                    + Self.installHint
            )
        }
        self.directory = directory
    }

    /// Finds the server programs, in this order: `$CARELEDGER_PG_BINDIR` (when set, it must be right: there is no
    /// fallback), the directory `pg_config --bindir` prints (when it holds initdb), /usr/lib/postgresql/15/bin, and
    /// the newest /usr/lib/postgresql/<version>/bin.
    public static func locate(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        searchRoot: String = "/usr/lib/postgresql"
    ) async throws(PostgresServerError) -> PostgresBinaries {
        if let explicit = environment[environmentVariable], !explicit.isEmpty {
            let missing = missingPrograms(in: explicit)
            guard missing.isEmpty else {
                throw PostgresServerError(
                    "\(environmentVariable)=\(explicit) does not hold the PostgreSQL server program(s) "
                        + "\(missing.joined(separator: ", ")): \(installHint)"
                )
            }
            return PostgresBinaries(unchecked: explicit)
        }

        var looked: [String] = ["$\(environmentVariable) (not set)"]

        if let pgConfig = CommandRunner.findExecutable("pg_config") {
            if let result = try? await CommandRunner.run([pgConfig, "--bindir"]), result.succeeded {
                let directory = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
                if !directory.isEmpty, missingPrograms(in: directory).isEmpty {
                    return PostgresBinaries(unchecked: directory)
                }
                looked.append("`pg_config --bindir` (\(directory))")
            } else {
                looked.append("`\(pgConfig) --bindir` (failed)")
            }
        } else {
            looked.append("`pg_config --bindir` (no pg_config on PATH)")
        }

        let preferred = searchRoot + "/15/bin"
        if missingPrograms(in: preferred).isEmpty {
            return PostgresBinaries(unchecked: preferred)
        }
        looked.append(preferred)

        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: searchRoot)) ?? [])
            .compactMap { name -> (version: [Int], name: String)? in
                let parts = name.split(separator: ".").map { Int($0) }
                guard !parts.isEmpty, !parts.contains(nil) else { return nil }
                return (parts.compactMap { $0 }, name)
            }
            .sorted { $0.version.lexicographicallyPrecedes($1.version) }
        for candidate in versions.reversed() {
            let directory = searchRoot + "/" + candidate.name + "/bin"
            if missingPrograms(in: directory).isEmpty {
                return PostgresBinaries(unchecked: directory)
            }
        }
        looked.append(searchRoot + "/*/bin")

        throw PostgresServerError(
            "the PostgreSQL server programs (initdb, pg_ctl, postgres) were not found; looked in "
                + looked.joined(separator: ", ") + ". To fix: " + installHint
        )
    }

    static func missingPrograms(in directory: String) -> [String] {
        requiredPrograms.filter { !FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
    }

    private init(unchecked directory: String) {
        self.directory = directory
    }
}
