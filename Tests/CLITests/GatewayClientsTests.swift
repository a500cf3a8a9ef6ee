import Foundation
import Node
import RecordStore
import TestSupport
import Testing

/// Issue 17, Deliver 8: real FHIR clients against the real gateway. The built `careledger serve` runs on a node home
/// whose `config/clients.json` lists two local clients (one RSA, one P-384 key made here); two Synthea bundles are
/// imported; then `scripts/gateway_clients.py` gets a token with a PyJWT client assertion (RS384 in one run, ES384
/// in the other) and drives the gateway with SMART's `fhirclient` and with `fhirpy`: a read, a search paged at
/// `_count=7` through every page (and fhirpy's own `fetch_all`), a create and an update, a transaction Bundle. What
/// the clients report is checked against the Synthea source and the store itself.
@Suite("Real FHIR clients (fhirclient, fhirpy) against careledger serve", .timeLimit(.minutes(10)))
struct GatewayClientsTests {
    let cli = CLITests()

    /// The patient whose Observations are paged: Jacob Larson (62 Observations), beside Lupe Little (65), whose
    /// Observations must never appear in his search.
    static let bundles = ["Jacob_Larson_0b324782-31d1-4659-89ab-58e075d6e61f.json",
                          "Lupe_Little_f8a42e66-8c03-4ee6-85e3-3817c2942de1.json"]
    static let pageSize = 7

    /// With CI=true the packages are required (.ci/run installs them), so a missing one fails instead of skipping.
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// python3 with fhirclient, fhirpy, PyJWT and cryptography importable.
    static let clientsAvailable = pythonImports("fhirclient, fhirpy, jwt, cryptography")

    /// Whether python3 (on PATH) imports `modules` (a comma-separated list).
    static func pythonImports(_ modules: String) -> Bool {
        guard let python = ServeCommandTests.executable("python3") else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import \(modules)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// Runs python3 with `arguments` in the repository; its exit status, standard output and standard error.
    static func python(_ arguments: [String], in dir: URL) throws -> CLIProcess.Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServeCommandTests.executable("python3") ?? "/usr/bin/python3")
        process.arguments = arguments
        process.currentDirectoryURL = CLITests.repoRoot
        return try CLIProcess.capture(process, in: dir)
    }

    /// Makes a private key (PEM) for `alg` with `cryptography` and its public JWKS with scripts/smart_token.py.
    static func clientKey(alg: String, kid: String, in dir: URL) throws -> (pem: String, jwks: String) {
        let pem = dir.appendingPathComponent("\(kid).pem").path, jwks = dir.appendingPathComponent("\(kid).jwks.json").path
        let make = """
            import sys
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec, rsa
            key = rsa.generate_private_key(65537, 2048) if sys.argv[1] == "RS384" else ec.generate_private_key(ec.SECP384R1())
            open(sys.argv[2], "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
            """
        let made = try python(["-c", make, alg, pem], in: dir)
        try #require(made.status == 0, "key generation: \(made.stderr)")
        let printed = try python(["scripts/smart_token.py", "--key", pem, "--alg", alg, "--kid", kid, "--print-jwks"], in: dir)
        try #require(printed.status == 0, "smart_token.py --print-jwks: \(printed.stderr)")
        try Data(printed.stdout.utf8).write(to: URL(fileURLWithPath: jwks))
        return (pem, jwks)
    }

    /// A loopback port that was free a moment ago (the token URL a client signs for names the real port, so the
    /// gateway is started on a chosen one rather than port 0).
    static func freePort(in dir: URL) throws -> Int {
        let run = try python(["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"], in: dir)
        return try #require(Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The Synthea patient's id and the ids of the Observations whose subject is that patient, from the source
    /// bundle (the import keeps Synthea's ids).
    static func sourceObservations(_ bundle: String) throws -> (patient: String, observations: [String]) {
        let url = Repository.shared.appendingPathComponent("corpus/synthea/bundles/\(bundle)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let entries = (json["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
        let patient = try #require(entries.first { $0["resourceType"] as? String == "Patient" }?["id"] as? String)
        let observations = entries.filter {
            $0["resourceType"] as? String == "Observation"
                && ($0["subject"] as? [String: Any])?["reference"] as? String == "urn:uuid:\(patient)"
        }.compactMap { $0["id"] as? String }
        return (patient, observations.sorted())
    }

    /// The current version's JSON of `type/id` in the store, or nil.
    static func current(_ store: any RecordStore, _ type: String, _ id: String) async throws -> [String: Any]? {
        guard let version = try await store.current(RecordKey(type: type, id: id)) else { return nil }
        return try JSONSerialization.jsonObject(with: Data(version.canonical)) as? [String: Any]
    }

    @Test(.enabled(if: clientsAvailable || required,
                   "needs python3 with fhirclient, fhirpy, PyJWT and cryptography: pip install -r scripts/requirements-oracle.txt"),
          arguments: ["RS384", "ES384"])
    func fhirclientAndFhirpyReadSearchWriteAndTransact(alg: String) async throws {
        try #require(Self.clientsAvailable, "python3 with fhirclient, fhirpy, PyJWT and cryptography is required in CI")
        let dir = try Repository.temporaryDirectory("careledger-clients")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let storePath = dir.appendingPathComponent("store.sqlite").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        let kid = "ehr-\(alg.lowercased())-1"
        let key = try Self.clientKey(alg: alg, kid: kid, in: dir)
        let clients = #"{"clients":[{"clientId":"ehr","jwksFile":"\#(key.jwks)","scopes":["system/*.cruds"]}]}"#
        try Data(clients.utf8).write(to: URL(fileURLWithPath: home).appendingPathComponent("config/clients.json"))
        let sources = Self.bundles.map { Repository.shared.appendingPathComponent("corpus/synthea/bundles/\($0)").path }
        let imported = try cli.run(["import", "--store", "sqlite:" + storePath, "--plain"] + sources)
        try #require(imported.status == 0, "import: \(imported.stderr)")
        let source = try Self.sourceObservations(Self.bundles[0])
        try #require(source.observations.count > 5 * Self.pageSize, "the patient must need several pages")

        let port = try Self.freePort(in: dir)
        let server = try await ServeCommandTests.start(["--home", home, "--store", "sqlite:" + storePath,
                                                        "--listen", "127.0.0.1:\(port)"], log: dir.appendingPathComponent("serve.log"))
        let run = try Self.python(["scripts/gateway_clients.py", "--base", server.url, "--client-id", "ehr", "--key", key.pem,
                                   "--alg", alg, "--kid", kid, "--patient", source.patient, "--count", String(Self.pageSize),
                                   "--tag", "\(alg)-\(UUID().uuidString)"], in: dir)
        let stopped = try await ServeCommandTests.stop(server.process)
        #expect(stopped == 0)
        #expect(run.status == 0, "gateway_clients.py (\(alg)) failed: \(run.stdout) \(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [String: Any]],
                                  "no JSON report: \(run.stdout) \(run.stderr)")

        let store = try await StoreLocation.open("sqlite:" + storePath)
        // The source's Observations are in the store, each with the patient as its subject: what a search must return.
        for id in source.observations {
            let stored = try await Self.current(store, "Observation", id)
            #expect((stored?["subject"] as? [String: Any])?["reference"] as? String == "Patient/\(source.patient)", "Observation/\(id)")
        }
        let pages = (source.observations.count + Self.pageSize - 1) / Self.pageSize
        for client in ["fhirclient", "fhirpy"] {
            let seen = try #require(report[client], "\(client) missing from the report")
            #expect(seen["error"] == nil, "\(client): \(seen["error"] ?? "")")
            #expect(seen["read"] as? String == source.patient, "\(client) read")
            // Every Observation exactly once across the pages (the lists keep duplicates), no other patient's.
            #expect(seen["searchIds"] as? [String] == source.observations, "\(client) search ids")
            #expect(seen["searchPages"] as? Int == pages, "\(client) pages at _count=\(Self.pageSize)")
            try await checkWrites(of: client, seen, in: store)
        }
        #expect(report["fhirpy"]?["fetchAllIds"] as? [String] == source.observations, "fhirpy fetch_all")
        print("gateway clients \(alg): fhirclient and fhirpy each read Patient/\(source.patient), saw \(source.observations.count) Observations in \(pages) pages, created, updated and posted a transaction")
        try await store.close()
    }

    /// A partner hospital's client, registered on the ledger, reading through both libraries: the patient whose
    /// Consent (submitted to the chain) permits partner B is read and all of its Observations paged; the patient
    /// without one is refused (403) and its search comes back empty. Every access leaves an AuditEvent.
    @Test(.enabled(if: clientsAvailable || required,
                   "needs python3 with fhirclient, fhirpy, PyJWT and cryptography: pip install -r scripts/requirements-oracle.txt"))
    func aPartnerClientReadsOnlyWhatConsentPermits() async throws {
        try #require(Self.clientsAvailable, "python3 with fhirclient, fhirpy, PyJWT and cryptography is required in CI")
        let dir = try Repository.temporaryDirectory("careledger-partner-clients")
        defer { try? FileManager.default.removeItem(at: dir) }
        let partner = "http://example.org/ids|partner-hospital-b"
        var p2p = try Self.freePort(in: dir)
        while p2p > 60_000 { p2p = try Self.freePort(in: dir) }
        let spec = #"{"chainId": "careledger-clients", "basePort": \#(p2p), "providers": [{"name": "hospital-a", "stake": 100, "#
            + #""identifiers": ["urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.4.7"]}, {"name": "partner-b", "stake": 1, "identifiers": ["\#(partner)"]}]}"#
        let specPath = dir.appendingPathComponent("providers.spec")
        try Data(spec.utf8).write(to: specPath)
        let net = dir.appendingPathComponent("net")
        let initialized = try cli.run(["testnet", "init", "--spec", specPath.path, "--dir", net.path])
        try #require(initialized.status == 0, "testnet init: \(initialized.stderr)")
        let hospital = net.appendingPathComponent("node0").path, partnerHome = net.appendingPathComponent("node1").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let sources = Self.bundles.map { Repository.shared.appendingPathComponent("corpus/synthea/bundles/\($0)").path }
        let imported = try cli.run(["import", "--store", store, "--plain"] + sources)
        try #require(imported.status == 0, "import: \(imported.stderr)")
        let consented = try Self.sourceObservations(Self.bundles[0]), refused = try Self.sourceObservations(Self.bundles[1])

        let node = try NodeProcessTests.NodeProcess(home: hospital, store: store, log: dir.appendingPathComponent("node.log"))
        defer { if node.process.isRunning { node.terminate() } }
        // Partner B registers its client with its own participant key, through hospital A's running node.
        try FileManager.default.copyItem(at: URL(fileURLWithPath: hospital).appendingPathComponent("data/rpc.json"),
                                         to: URL(fileURLWithPath: partnerHome).appendingPathComponent("data/rpc.json"))
        let key = try Self.clientKey(alg: "ES384", kid: "partner-b-1", in: dir)
        let registered = try cli.run(["client", "register", "--home", partnerHome, "--jwks", key.jwks,
                                      "--scope", "system/Patient.rs system/Observation.rs", "--client-id", "partner-b"])
        try #require(registered.status == 0, "client register: \(registered.stderr)")
        // Hospital A records the first patient's Consent permitting partner B (TREAT), which goes to the chain.
        let consentPath = dir.appendingPathComponent("consent.json").path
        let made = try Self.python(["scripts/bench_http_data.py", "consent", "--bundle", sources[0], "--actor", partner, "--out", consentPath], in: dir)
        try #require(made.status == 0, "consent document: \(made.stderr)")
        let submitted = try cli.run(["consent", "submit", consentPath, "--home", hospital, "--store", store])
        try #require(submitted.status == 0, "consent submit: \(submitted.stderr)")

        let port = try Self.freePort(in: dir)
        let server = try await ServeCommandTests.start(["--home", hospital, "--store", store, "--listen", "127.0.0.1:\(port)"],
                                                       log: dir.appendingPathComponent("serve.log"))
        var reports: [[String: [String: Any]]] = []
        for patient in [consented.patient, refused.patient] {
            let run = try Self.python(["scripts/gateway_clients.py", "--base", server.url, "--client-id", "partner-b", "--key", key.pem,
                                       "--alg", "ES384", "--kid", "partner-b-1", "--scope", "system/Patient.rs system/Observation.rs",
                                       "--patient", patient, "--count", String(Self.pageSize), "--read-only"], in: dir)
            #expect(run.status == 0, "gateway_clients.py (partner, Patient/\(patient)): \(run.stdout) \(run.stderr)")
            reports.append(try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [String: Any]],
                                        "no JSON report: \(run.stdout) \(run.stderr)"))
        }
        #expect(try await ServeCommandTests.stop(server.process) == 0)
        node.terminate()

        for client in ["fhirclient", "fhirpy"] {
            let granted = try #require(reports[0][client]), denied = try #require(reports[1][client])
            #expect(granted["error"] == nil && denied["error"] == nil, "\(client): \(granted["error"] ?? "") \(denied["error"] ?? "")")
            #expect(granted["read"] as? String == consented.patient, "\(client) consented read")
            #expect(granted["searchIds"] as? [String] == consented.observations, "\(client) consented search")
            #expect(denied["read"] == nil, "\(client) read without consent")
            #expect((denied["searchIds"] as? [String])?.isEmpty == true, "\(client) search without consent")
        }
        #expect(reports[0]["fhirpy"]?["fetchAllIds"] as? [String] == consented.observations)
        #expect(reports[1]["fhirclient"]?["readRefused"] as? Int == 403)
        #expect(reports[1]["fhirpy"]?["readRefused"] as? String == "forbidden")
        let opened = try await StoreLocation.open(store)
        let audits = try await opened.countsByType().first { $0.type == "AuditEvent" }?.count ?? 0
        try await opened.close()
        // At least the four reads (two clients, two patients), granted or refused, were audited.
        #expect(audits >= 4, "AuditEvents stored: \(audits)")
        print("gateway clients, partner (ES384): \(consented.observations.count) Observations of the consented patient seen by both clients; the other patient refused (fhirclient 403, fhirpy forbidden), search empty; \(audits) AuditEvents")
    }

    /// The client's created Patient has versions 1 and 2 in the store, the second carrying the update; its
    /// transaction's two entries are 201 and stored, the Observation's `urn:uuid:` subject rewritten to the Patient.
    func checkWrites(of client: String, _ seen: [String: Any], in store: any RecordStore) async throws {
        #expect(seen["createdVersion"] as? String == "1", "\(client) create")
        #expect(seen["updatedVersion"] as? String == "2" && seen["updatedGiven"] as? String == "Updated", "\(client) update")
        let created = try #require(seen["created"] as? String, "\(client) created id")
        let versions = try await store.versions(RecordKey(type: "Patient", id: created))
        #expect(versions.map(\.version).sorted() == [1, 2], "\(client) stored versions of Patient/\(created)")
        let latest = try await Self.current(store, "Patient", created)
        let names = latest?["name"] as? [[String: Any]]
        #expect((names?.first?["given"] as? [String]) == ["Updated"], "\(client) stored update")

        let statuses = seen["transactionStatuses"] as? [String] ?? []
        #expect(statuses.count == 2 && statuses.allSatisfy { $0.hasPrefix("201") }, "\(client) transaction: \(statuses)")
        let locations = (seen["transactionLocations"] as? [String] ?? []).map { $0.split(separator: "/").map(String.init) }
        try #require(locations.count == 2 && locations.allSatisfy { $0.count == 4 }, "\(client) transaction locations")
        #expect(locations[0][0] == "Patient" && locations[1][0] == "Observation")
        #expect(try await Self.current(store, "Patient", locations[0][1]) != nil, "\(client) transaction Patient stored")
        let observation = try await Self.current(store, "Observation", locations[1][1])
        #expect((observation?["subject"] as? [String: Any])?["reference"] as? String == "Patient/\(locations[0][1])",
                "\(client) transaction Observation's subject")
    }
}
