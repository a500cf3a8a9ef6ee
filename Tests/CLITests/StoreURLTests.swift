import Foundation
import TestSupport
import Testing

/// `--store` values that name no record store (issue 16, item 5), through the built binary, in a directory of
/// their own so a store file created by mistake would be seen.
@Suite("careledger --store: accepted forms")
struct StoreURLTests {
    let cli = CLIProcess()
    static let patient = #"{"resourceType":"Patient","id":"scheme-ok","gender":"female"}"#

    /// Before: `--store mysql://x` silently created an SQLite file `mysql:/x` in the working directory and
    /// imported into it, exit 0.
    @Test(arguments: ["mysql://x", "file:store.sqlite", "postgres:/careledger", "http://db.example.org/careledger", "sqlite3:store.db"])
    func anUnknownStoreSchemeExits64AndCreatesNothing(store: String) throws {
        let dir = try Repository.temporaryDirectory("careledger-store-scheme")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("patient.json")
        try Data(Self.patient.utf8).write(to: input)

        let imported = try cli.run(["import", input.path, "--store", store], in: dir)
        #expect(imported.status == 64, "\(store): \(imported.stderr)")
        #expect(imported.stderr.contains("postgres://") && imported.stderr.contains("postgresql://") && imported.stderr.contains("sqlite:PATH"),
                "the accepted forms are named: \(imported.stderr)")
        #expect(try cli.entries(dir) == ["patient.json"], "no store file was created")

        for command in [["store", "stats"], ["deadletters", "list"]] {
            let r = try cli.run(command + ["--store", store], in: dir)
            #expect(r.status == 64, "\(command) \(store)")
        }
        #expect(try cli.entries(dir) == ["patient.json"])
    }

    @Test func anUnknownSchemeInTheEnvironmentExits64NamingIt() throws {
        let dir = try Repository.temporaryDirectory("careledger-store-env")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try cli.run(["store", "stats"], in: dir, environment: ["CARELEDGER_STORE": "mysql://user:secret@db/records"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("$CARELEDGER_STORE") && r.stderr.contains("'mysql'"), "\(r.stderr)")
        #expect(!r.stderr.contains("secret"), "a password in the URL is never printed")
        #expect(try cli.entries(dir).isEmpty)
    }

    /// The accepted forms still open (and create) their SQLite file.
    @Test func sqliteURLsAndPlainPathsStillOpen() throws {
        let dir = try Repository.temporaryDirectory("careledger-store-forms")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (store, file) in [("sqlite:a.sqlite", "a.sqlite"), ("sqlite://" + dir.path + "/b.sqlite", "b.sqlite"), ("c.sqlite", "c.sqlite"),
                              ("./sub/d.sqlite", "sub")] {
            let r = try cli.run(["store", "stats", "--store", store], in: dir)
            #expect(r.status == 0, "\(store): \(r.stderr)")
            #expect(try cli.entries(dir).contains(file), "\(store)")
        }
    }
}
