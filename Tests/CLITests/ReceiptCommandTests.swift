import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// `careledger node init` and `careledger verify`, run as a user would.
@Suite("careledger node init and verify")
struct ReceiptCommandTests {
    let cli = CLITests()

    @Test func nodeInitWritesKeysAndGenesisAndRefusesToOverwrite() throws {
        let dir = try Repository.temporaryDirectory("careledger-home")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try cli.run(["node", "init", "--home", dir.path, "--chain-id", "test-chain", "--moniker", "hospital-a"])
        #expect(first.status == 0, "\(first.stderr)")
        let home = NodeHome(dir.path)
        let genesis = try home.genesis()
        #expect(genesis.chainId == "test-chain" && genesis.validators.count == 1 && genesis.validators[0].name == "hospital-a")
        #expect(genesis.validators[0].publicKey == (try home.nodeKey()).publicKey)
        #expect(try home.consortiumKey().count == 32)
        for file in [home.nodeKeyFile, home.consortiumKeyFile] {
            let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file.lastPathComponent) is readable by its owner only")
        }
        #expect(!first.stdout.contains(Base64.encode(try home.nodeKey().rawRepresentation)), "the private key is never printed")
        let again = try cli.run(["node", "init", "--home", dir.path])
        #expect(again.status == 1 && again.stderr.contains("already holds a node"))
    }

    @Test func verifyAcceptsAGoodReceiptAndNamesTheFirstFailedCheck() throws {
        let dir = try Repository.temporaryDirectory("careledger-receipt")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try cli.run(["node", "init", "--home", dir.path, "--chain-id", "receipt-chain"]).status == 0)
        let home = NodeHome(dir.path)
        let fixture = try SampleChain.anchoredReceipt(chainId: "receipt-chain", key: try home.nodeKey())
        let receiptFile = dir.appendingPathComponent("receipt.json")
        let recordFile = dir.appendingPathComponent("record.json")
        try ReceiptJSON.encode(fixture.receipt).write(to: receiptFile)
        try Data(fixture.record).write(to: recordFile)
        #expect(try ReceiptJSON.decode(try Data(contentsOf: receiptFile)) == fixture.receipt, "the JSON form round-trips")

        let ok = try cli.run(["verify", receiptFile.path, "--genesis", home.genesisFile.path, "--record", recordFile.path])
        #expect(ok.status == 0 && ok.stdout.hasPrefix("OK Patient/p3/_history/1"), "\(ok.stdout)\(ok.stderr)")

        // A record that is not the one anchored.
        try Data(fixture.record + [0x20]).write(to: recordFile)
        let wrongRecord = try cli.run(["verify", receiptFile.path, "--genesis", home.genesisFile.path, "--record", recordFile.path])
        #expect(wrongRecord.status == 1 && wrongRecord.stdout.hasPrefix("FAILED record"), "\(wrongRecord.stdout)")

        // Another chain's genesis: the commit is by validators it does not know.
        let other = try Repository.temporaryDirectory("careledger-other")
        defer { try? FileManager.default.removeItem(at: other) }
        #expect(try cli.run(["node", "init", "--home", other.path, "--chain-id", "receipt-chain"]).status == 0)
        let foreign = try cli.run(["verify", receiptFile.path, "--genesis", NodeHome(other.path).genesisFile.path])
        #expect(foreign.status == 1 && foreign.stdout.hasPrefix("FAILED commit"), "\(foreign.stdout)")

        // A receipt edited by hand: the reference changed.
        let edited = try String(contentsOf: receiptFile, encoding: .utf8).replacingOccurrences(of: "Patient/p3/", with: "Patient/p4/")
        try edited.write(to: receiptFile, atomically: true, encoding: .utf8)
        let tampered = try cli.run(["verify", receiptFile.path, "--genesis", home.genesisFile.path])
        #expect(tampered.status == 1 && tampered.stdout.hasPrefix("FAILED manifest"), "\(tampered.stdout)")
    }
}
