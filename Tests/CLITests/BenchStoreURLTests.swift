import Foundation
import TestSupport
import Testing

/// `bench anchoring --store` follows the store rule of every other command (issue 16, item 5): an unknown scheme
/// exits 64 before a chain or a store is created.
@Suite("careledger bench anchoring --store")
struct BenchStoreURLTests {
    @Test func anUnknownStoreSchemeExits64AndCreatesNothing() throws {
        let dir = try Repository.temporaryDirectory("careledger-bench-store")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cli = CLIProcess()
        let r = try cli.run(["bench", "anchoring", "--records", "10", "--store", "mysql://x"], in: dir)
        #expect(r.status == 64 && r.stderr.contains("sqlite:PATH"), "\(r.stderr)")
        #expect(try cli.entries(dir).isEmpty, "no store file was created")
    }
}
