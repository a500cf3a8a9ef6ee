import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// `GET /client` and `GET /participant` (docs/node.md) on a chain whose genesis gives its validator identifiers; the
/// genesis, node init and testnet spec carry those identifiers.
@Suite("Clients and participants over the node RPC")
struct ClientRPCTests {
    static let npi = "http://hl7.org/fhir/sid/us-npi|1234567893"
    static let oid = "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.3.72"
    static let jwks = #"{"keys":[{"kty":"EC","crv":"P-384","kid":"k1","x":"m2gNmyvSfLc1D_ZKfXhaHkD6Iyz0kjeuPtKDgj8V4Yq2dAhWrDpPuWdNiONwtmYX","y":"lC5yD2RWV8lYM0Gw2lITEiP1cwjp-JfhyyrWRe0L3tdt0-aRbhu2a-2TKfHETQRM"}]}"#

    func get(_ path: String, _ query: [String: String], _ chain: Chain) async -> (status: Int, object: [String: Any]) {
        let response = await NodeRPC.handle(RPCRequest(method: "GET", path: path, query: query), chain: chain)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, object)
    }

    @Test func theClientEndpointAnswersTheRegistrationWithTheParticipantsIdentifiers() async throws {
        let dir = try Repository.temporaryDirectory("careledger-client-rpc")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = try SigningKey(seed: [UInt8](repeating: 5, count: 32))
        let genesis = Genesis(chainId: "client-chain", genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: [Genesis.Validator(name: "Harbourview Medical Centre", publicKey: key.publicKey, power: 10, identifiers: [Self.npi, Self.oid])])
        // genesis.json keeps the identifiers.
        let file = dir.appendingPathComponent("genesis.json")
        try genesis.write(to: file)
        #expect(try Genesis.read(from: file) == genesis)

        let chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true), key: key)
        let unknown = await get("/client", ["id": "partner-b"], chain)
        #expect(unknown.status == 404 && unknown.object["code"] as? String == "not-found", "\(unknown)")
        #expect(await get("/client", [:], chain).status == 400)
        #expect(await get("/client", ["id": "has space"], chain).status == 400)

        let registration = RegisterClient(clientId: "partner-b", jwks: Array(Self.jwks.utf8), scopes: ["system/*.rs", "system/Patient.cruds"])
        _ = try await chain.submit(.registerClient(registration))
        try await chain.produceBlock(now: 1_700_000_001_000)
        let found = await get("/client", ["id": "partner-b"], chain)
        #expect(found.status == 200)
        #expect(Set(found.object.keys) == ["clientId", "participant", "participantName", "identifiers", "jwks", "scopes", "height", "registeredAt", "stateHeight"])
        #expect(found.object["clientId"] as? String == "partner-b")
        #expect(found.object["participant"] as? String == Hex.encode(key.publicKey.bytes))
        #expect(found.object["participantName"] as? String == "Harbourview Medical Centre")
        #expect(found.object["identifiers"] as? [String] == [Self.npi, Self.oid])
        #expect(found.object["scopes"] as? [String] == ["system/*.rs", "system/Patient.cruds"])
        #expect((found.object["height"] as? NSNumber)?.intValue == 1 && (found.object["stateHeight"] as? NSNumber)?.intValue == 1)
        let keys = (found.object["jwks"] as? [String: Any])?["keys"] as? [[String: Any]]
        #expect(keys?.first?["crv"] as? String == "P-384" && keys?.first?["kid"] as? String == "k1")

        // The same answer decodes as the Codable type the gateway reads, and its JWKS re-encodes to the same keys.
        let view = try #require(await chain.clientView("partner-b"))
        let body = await NodeRPC.handle(RPCRequest(method: "GET", path: "/client", query: ["id": "partner-b"]), chain: chain).body
        #expect(try JSONDecoder().decode(ClientView.self, from: Data(body)) == view)
        let reread = try JSONSerialization.jsonObject(with: try view.jwksJSON()) as? [String: Any]
        #expect(((reread?["keys"] as? [[String: Any]])?.first?["x"] as? String)?.hasPrefix("m2gNmyvS") == true)

        // Participants by key and by identifier; the next nonce counts the registration.
        let byKey = await get("/participant", ["key": Hex.encode(key.publicKey.bytes)], chain)
        #expect(byKey.status == 200 && byKey.object["name"] as? String == "Harbourview Medical Centre" && (byKey.object["nextNonce"] as? NSNumber)?.intValue == 1)
        let byIdentifier = await get("/participant", ["identifier": Self.oid], chain)
        #expect(byIdentifier.object["participant"] as? String == Hex.encode(key.publicKey.bytes))
        #expect(await get("/participant", ["identifier": "urn:x|nobody"], chain).status == 404)
        #expect(await get("/participant", ["key": "zz"], chain).status == 400)
        #expect(await get("/participant", [:], chain).status == 400)
    }

    @Test func aGenesisWhoseValidatorsShareAnIdentifierDoesNotOpen() async throws {
        let dir = try Repository.temporaryDirectory("careledger-client-rpc")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try SigningKey(seed: [UInt8](repeating: 6, count: 32)), b = try SigningKey(seed: [UInt8](repeating: 7, count: 32))
        let genesis = Genesis(chainId: "c", genesisTime: Date(timeIntervalSince1970: 1_700_000_000), validators: [
            Genesis.Validator(name: "A", publicKey: a.publicKey, power: 10, identifiers: [Self.npi]),
            Genesis.Validator(name: "B", publicKey: b.publicKey, power: 1, identifiers: [Self.npi]),
        ])
        await #expect(throws: NodeError.self) {
            _ = try await Chain(genesis: genesis, blocks: try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true), key: a)
        }
    }

    @Test func homesAndTestnetsCarryIdentifiersAndRefuseBadOnes() throws {
        let dir = try Repository.temporaryDirectory("careledger-client-rpc")
        defer { try? FileManager.default.removeItem(at: dir) }
        let genesis = try NodeHome(dir.appendingPathComponent("one").path).initialize(chainId: "c", moniker: "m", power: 10, genesisTime: Date(),
                                                                                         identifiers: [Self.oid, Self.npi])
        #expect(genesis.validators[0].identifiers == [Self.npi, Self.oid], "canonical order")
        #expect(throws: NodeError.self) {
            try NodeHome(dir.appendingPathComponent("two").path).initialize(chainId: "c", moniker: "m", power: 10, genesisTime: Date(), identifiers: ["no bar"])
        }

        // The sample network's spec gives every provider identifiers, distinct across providers.
        let sample = try Testnet.read(from: Repository.root.appendingPathComponent("Samples/network/providers.spec"))
        #expect(sample.providers.allSatisfy { !$0.identifiers.isEmpty })
        let all = sample.providers.flatMap(\.identifiers)
        #expect(Set(all).count == all.count)
        let members = try sample.initialize(in: dir.appendingPathComponent("net"), genesisTime: Date())
        #expect(try members[1].home.genesis().validators[1].identifiers == sample.providers[1].identifiers)

        func spec(_ text: String) throws -> Testnet {
            let url = dir.appendingPathComponent("spec-\(UUID().uuidString)")
            try Data(text.utf8).write(to: url)
            return try Testnet.read(from: url)
        }
        #expect(throws: NodeError.self) { try spec(#"{"providers":[{"name":"a","identifiers":["x|1"]},{"name":"b","identifiers":["x|1"]}]}"#) }
        #expect(throws: NodeError.self) { try spec(#"{"providers":[{"name":"a","identifiers":"x|1"}]}"#) }
        #expect(throws: NodeError.self) { try spec(#"{"providers":[{"name":"a","identifiers":["x|1","x|1"]}]}"#) }
        #expect(throws: NodeError.self) { try spec(#"{"providers":[{"name":"a","identifiers":["nobar"]}]}"#) }
        #expect(try spec(#"{"providers":[{"name":"a","identifiers":["y|2","x|1"]}]}"#).providers[0].identifiers == ["x|1", "y|2"])
    }
}
