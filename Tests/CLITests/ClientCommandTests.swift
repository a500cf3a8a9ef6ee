import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// `careledger client register|show` and `node init --identifier` through the built binary, against a running
/// `node start` over its loopback RPC.
@Suite("careledger client register and show", .timeLimit(.minutes(5)))
struct ClientCommandTests {
    let cli = CLITests()
    static let npi = "http://hl7.org/fhir/sid/us-npi|1314962287"
    /// RFC 7638 §3.1's example key, whose thumbprint the RFC gives: NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    static let rfc7638Key = #"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#
    static let ecKey = #"{"kty":"EC","crv":"P-384","kid":"b2","alg":"ES384","x":"m2gNmyvSfLc1D_ZKfXhaHkD6Iyz0kjeuPtKDgj8V4Yq2dAhWrDpPuWdNiONwtmYX","y":"lC5yD2RWV8lYM0Gw2lITEiP1cwjp-JfhyyrWRe0L3tdt0-aRbhu2a-2TKfHETQRM"}"#

    func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func show(_ id: String, home: String) throws -> [String: Any]? {
        let run = try cli.run(["client", "show", "--home", home, "--id", id])
        guard run.status == 0, let o = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            Issue.record("client show exit \(run.status): \(run.stdout) \(run.stderr)")
            return nil
        }
        return o
    }

    @Test func aClientIsRegisteredRotatedAndShownThroughTheRunningNode() throws {
        let dir = try Repository.temporaryDirectory("careledger-client-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let initRun = try cli.run(["node", "init", "--home", home, "--chain-id", "client-chain", "--moniker", "harbourview", "--identifier", Self.npi])
        #expect(initRun.status == 0 && initRun.stdout.contains("identifier \(Self.npi)"), "\(initRun.stdout) \(initRun.stderr)")
        #expect(try NodeHome(home).genesis().validators[0].identifiers == [Self.npi])
        #expect(try cli.run(["node", "init", "--home", dir.appendingPathComponent("bad").path, "--identifier", "no-bar"]).status == 64)

        let original = try write(#"{"keys":[\#(Self.rfc7638Key)]}"#, "jwks.json", in: dir)
        let rotated = try write(#"{"keys":[\#(Self.ecKey)]}"#, "rotated.json", in: dir)
        let node = try NodeProcessTests.NodeProcess(home: home, store: store, log: dir.appendingPathComponent("node.log"))
        defer { if node.process.isRunning { node.terminate() } }

        // The default client id is the RFC 7638 thumbprint of the first key.
        let registered = try cli.run(["client", "register", "--home", home, "--jwks", original, "--scope", "system/Patient.rs system/Observation.rs"])
        #expect(registered.status == 0, "\(registered.stderr)")
        let id = registered.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        let first = try #require(try show(id, home: home))
        #expect(first["participantName"] as? String == "harbourview")
        #expect(first["participant"] as? String == Hex.encode(try NodeHome(home).nodeKey().publicKey.bytes))
        #expect(first["identifiers"] as? [String] == [Self.npi])
        #expect(first["scopes"] as? [String] == ["system/Observation.rs", "system/Patient.rs"])
        #expect(((first["jwks"] as? [String: Any])?["keys"] as? [[String: Any]])?.first?["kid"] as? String == "2011-04-29")
        let firstHeight = try #require((first["height"] as? NSNumber)?.uint64Value)

        // Rotation: the same id, new keys and scopes; the first registration's height is kept.
        let rotation = try cli.run(["client", "register", "--home", home, "--jwks", rotated, "--scope", "system/*.rs", "--client-id", id])
        #expect(rotation.status == 0 && rotation.stdout == id + "\n", "\(rotation.stdout) \(rotation.stderr)")
        let second = try #require(try show(id, home: home))
        #expect(((second["jwks"] as? [String: Any])?["keys"] as? [[String: Any]])?.first?["kid"] as? String == "b2")
        #expect(second["scopes"] as? [String] == ["system/*.rs"])
        #expect(((second["height"] as? NSNumber)?.uint64Value ?? 0) > firstHeight && (second["registeredAt"] as? NSNumber)?.uint64Value == firstHeight)

        // Usage mistakes are 64, an unreadable JWKS 66, an unknown client 1; nothing reaches the ledger.
        let privateKey = try write(#"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA","d":"AA"}]}"#, "private.json", in: dir)
        for (arguments, status) in [(["--jwks", privateKey, "--scope", "system/*.rs"], 64), (["--jwks", original, "--scope", "user/*.rs"], 64),
                                    (["--jwks", original, "--scope", "system/*.rs", "--client-id", "has space"], 64),
                                    (["--jwks", dir.appendingPathComponent("missing.json").path, "--scope", "system/*.rs"], 66)] {
            let run = try cli.run(["client", "register", "--home", home] + arguments)
            #expect(Int(run.status) == status, "\(arguments): \(run.status) \(run.stderr)")
        }
        #expect(try cli.run(["client", "show", "--home", home, "--id", "nobody"]).status == 1)

        // The participant's identifiers: shown, replaced by a SetIdentifiers transaction, seen by client show.
        let shown = try cli.run(["node", "identifiers", "--home", home])
        #expect(shown.status == 0 && shown.stdout == Self.npi + "\n", "\(shown.stdout) \(shown.stderr)")
        let oid = "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.3.9901.2"
        let set = try cli.run(["node", "identifiers", "--home", home, "--identifier", oid, "--identifier", Self.npi])
        #expect(set.status == 0 && set.stdout == Self.npi + "\n" + oid + "\n", "\(set.stdout) \(set.stderr)")
        #expect(try show(id, home: home)?["identifiers"] as? [String] == [Self.npi, oid])
        #expect(try cli.run(["node", "identifiers", "--home", home, "--identifier", "no-bar"]).status == 64)

        // A home whose key is not a participant of the chain is refused by the ledger (1): its node's genesis and RPC
        // port with another key.
        let outsider = dir.appendingPathComponent("outsider").path
        #expect(try cli.run(["node", "init", "--home", outsider]).status == 0)
        try FileManager.default.removeItem(atPath: NodeHome(outsider).genesisFile.path)
        try FileManager.default.copyItem(atPath: NodeHome(home).genesisFile.path, toPath: NodeHome(outsider).genesisFile.path)
        try FileManager.default.copyItem(atPath: NodeHome(home).rpcFile.path, toPath: NodeHome(outsider).rpcFile.path)
        let refused = try cli.run(["client", "register", "--home", outsider, "--jwks", rotated, "--scope", "system/*.rs", "--client-id", "outsider-client"])
        #expect(refused.status == 1 && refused.stderr.contains("not a participant"), "\(refused.stderr)")
        #expect(try cli.run(["node", "identifiers", "--home", outsider, "--identifier", "urn:x|1"]).status == 1)

        // With the node killed (its rpc.json left behind) the node cannot be reached: 69.
        node.kill9()
        let unreachable = try cli.run(["client", "register", "--home", home, "--jwks", rotated, "--scope", "system/*.rs", "--client-id", id])
        #expect(unreachable.status == 69, "\(unreachable.stderr)")
    }
}
