import ArgumentParser
import FHIRCore
import Ledger
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Node
import RecordStore
import Services

/// The demo's gateway part (issue 17, Deliver 10): the first provider's node also serves the FHIR gateway
/// (`node start --http`), and partner hospital B — its SMART client registered on the ledger by its own participant
/// (Harbourview, whose identifiers include the one the sample Consent names) — asks it for the sample patient over
/// FHIR REST with an access token got from an ES384 client assertion signed in Swift. Refused before the sample
/// Consent is on the ledger, served after it; both accesses' AuditEvents are read back from the store.
extension DemoCommand {
    /// Partner B's client id, key id and key files in Samples/.
    static let partnerClientId = "partner-hospital-b"
    static let partnerKid = "partner-hospital-b-es384"
    static let partnerScope = "system/*.rs"
    /// The home of the provider that is partner hospital B in Samples/network/providers.spec (its second provider).
    static let partnerHome = 1

    /// The gateway's URL: the port next to the validators' P2P ports (`--base-port` + 80).
    var gatewayURL: String { "http://127.0.0.1:\(basePort + 80)" }
    var partnerKeyFile: String { "\(samples)/clients/partner-hospital-b.es384.pem" }
    var partnerJWKSFile: String { "\(samples)/clients/partner-hospital-b.jwks" }

    /// What the refusal step hands to the permit step.
    struct PartnerVisit {
        var signer: ClientAssertionSigner
        /// `Patient/id` of the sample patient.
        var patient: String
        /// The sample patient's AuditEvents stored before this run's accesses (earlier runs).
        var earlierAudits: Set<String>
    }

    /// Registers partner B's client on the ledger (once), gets a token and is refused the sample patient: before the
    /// sample Consent (purpose TREAT) on a first run; on a later run, where the Consent is already on the ledger,
    /// for a purpose no Consent permits (HMARKT). Returns the visit (nil when it could not start) and failures.
    func partnerRefused(store: any RecordStore, network: LocalNetwork, consent: Resource) async throws -> (PartnerVisit?, Int) {
        print("")
        print("CareLedger demo — the FHIR gateway: partner hospital B reads the sample patient over FHIR REST with a SMART token")
        guard await DemoHTTP.waitForHealth(gatewayURL) else {
            print("  gateway     no answer at \(gatewayURL)/health within 60 s (see \(homePath)/node0/node.log)")
            return (nil, 1)
        }
        print("  gateway     \(gatewayURL), served by node0's process (careledger node start … --http 127.0.0.1:\(basePort + 80))")
        let partnerHome = network.homes[Self.partnerHome]
        let jwks = try InputFile.read(partnerJWKSFile)
        do throws(ServiceError) {
            let registered = try await ClientRegistrar(home: partnerHome).register(jwks: jwks, scopes: [Self.partnerScope], clientId: Self.partnerClientId)
            print("  client      \(registered.clientId) registered on the ledger by partner B's participant \(registered.participant.prefix(16))… at height \(registered.height), scope \(Self.partnerScope)")
        } catch where error.code == .conflict {
            print("  client      \(Self.partnerClientId) is already registered on the ledger (a second run)")
        } catch {
            print("  client      NOT REGISTERED: \(error)")
            return (nil, 1)
        }
        print("              (careledger client register --home \(partnerHome.root.path) --jwks \(partnerJWKSFile) --scope '\(Self.partnerScope)' --client-id \(Self.partnerClientId))")
        guard let id = try await store.resolveIdentifier(type: "Patient", system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021").first else {
            print("  read        the sample patient MRN-40021 is not in the store")
            return (nil, 1)
        }
        let signer = try await ClientAssertionSigner.es384(clientId: Self.partnerClientId, kid: Self.partnerKid, pem: String(decoding: try InputFile.read(partnerKeyFile), as: UTF8.self))
        let visit = PartnerVisit(signer: signer, patient: "Patient/\(id)",
                                 earlierAudits: Set(try await store.search(type: "AuditEvent", param: "entity", value: "Patient/\(id)")))
        // On the ledger already (an earlier run)? Asked as `consent query` asks, of the first node's chain. (The
        // Consent itself is in the store from the first run's import of Samples/ either way.)
        let chain = try await network.homes[0].openChain()
        try await chain.refresh()
        let question = try ConsentQuestion(patient: "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021", actors: ["http://example.org/ids|partner-hospital-b"],
                                           purposes: ["TREAT"])
        let answers = ConsentAnswers(chain: chain, consortiumKey: try network.homes[0].consortiumKey())
        let consentOnLedger = (try? await answers.query(question))?.answer.decision == .permit
        let purpose: String
        if consentOnLedger {
            purpose = "HMARKT"
            print("  note        Consent/\(consent.id ?? "") is already on the ledger (this network ran the demo before): the refusal without it was")
            print("              shown on the first run. Refused here instead: the same read for marketing (HMARKT), which no Consent permits.")
        } else {
            purpose = "TREAT"
            print("  note        the sample Consent is not on the ledger yet: no Consent lets partner B see this patient")
        }
        let status = try await partnerRead(visit, purpose: purpose)
        return (visit, status == 403 ? 0 : 1)
    }

    /// After the sample Consent: the same read for treatment is served; then both accesses' AuditEvents and the
    /// commands that do the same by hand. Returns failures.
    func partnerServed(_ visit: PartnerVisit, store: any RecordStore, home: NodeHome) async throws -> Int {
        print("")
        // The gateway decides at the last finalized height, re-read from the block store at most every 200 ms:
        // a block after the Consent's, and that interval, before asking.
        let chain = try await home.openChain()
        try await chain.refresh()
        let target = await chain.height + 1
        let deadline = ContinuousClock.now + .seconds(60)
        while await chain.height < target && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            try await chain.refresh()
        }
        try await Task.sleep(for: .milliseconds(300))
        var failures = try await partnerRead(visit, purpose: "TREAT") == 200 ? 0 : 1
        failures += try await printAudits(visit, store: store)
        printByHand(visit)
        return failures
    }

    /// Gets a token for `purpose` and reads the sample patient; prints both exchanges; returns the read's status
    /// (0 when no token was given).
    func partnerRead(_ visit: PartnerVisit, purpose: String) async throws -> Int {
        let tokenURL = gatewayURL + "/auth/token"
        let assertion = try await visit.signer.assertion(tokenURL: tokenURL, purposeOfUse: purpose, now: Date())
        let body = ClientAssertionSigner.tokenRequestBody(assertion: assertion, scope: Self.partnerScope)
        let answer = try await DemoHTTP.send("POST", tokenURL, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data(body.utf8))
        let json = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
        guard answer.status == 200, let token = json?["access_token"] as? String else {
            print("  token       POST /auth/token answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            return 0
        }
        print("  token       POST /auth/token with an ES384 client assertion (jwt-kit, purpose_of_use \(purpose)) → 200, expires in \(json?["expires_in"] as? Int ?? 0) s, scope \(json?["scope"] as? String ?? "?")")
        let read = try await DemoHTTP.send("GET", "\(gatewayURL)/\(visit.patient)", headers: ["Authorization": "Bearer \(token)", "Accept": "application/fhir+json"], body: nil)
        let resource = (try? JSONSerialization.jsonObject(with: read.body)) as? [String: Any]
        let label = "GET /\(visit.patient) (\(purpose))"
        if read.status == 200 {
            let name = ((resource?["name"] as? [[String: Any]])?.first).map { n in ((n["given"] as? [String]) ?? []).joined(separator: " ") + " " + (n["family"] as? String ?? "") } ?? "?"
            print("  read        \(label) → 200 OK, served: \(resource?["resourceType"] as? String ?? "?") \(name), ETag \(read.etag ?? "none")")
        } else {
            let issue = (resource?["issue"] as? [[String: Any]])?.first
            print("  read        \(label) → \(read.status) \(resource?["resourceType"] as? String ?? "?"): \(issue?["code"] as? String ?? "?"), \(issue?["diagnostics"] as? String ?? "")")
        }
        return read.status
    }

    /// The AuditEvents this run's accesses stored, read back from the store; returns failures (none refused or none
    /// granted among them).
    func printAudits(_ visit: PartnerVisit, store: any RecordStore) async throws -> Int {
        let ids = Set(try await store.search(type: "AuditEvent", param: "entity", value: visit.patient)).subtracting(visit.earlierAudits)
        var events: [(recorded: String, line: String, success: Bool)] = []
        for id in ids {
            guard let version = try await store.current(RecordKey(type: "AuditEvent", id: id)) else { continue }
            let event = try JSONReader().read(version.canonical).object
            let agents = event["agent"]?.arrayValue ?? []
            let client = agents.first?.objectValue?["who"]?.objectValue?["display"]?.stringValue ?? "?"
            let organization = agents.dropFirst().first?.objectValue?["who"]?.objectValue?["identifier"]?.objectValue
            let org = organization.map { "\($0["system"]?.stringValue ?? "")|\($0["value"]?.stringValue ?? "")" } ?? "?"
            let patient = (event["entity"]?.arrayValue ?? []).compactMap(\.objectValue).first { $0["what"]?.objectValue?["reference"]?.stringValue == visit.patient }
            var details: [String: String] = [:]
            for detail in patient?["detail"]?.arrayValue ?? [] {
                if let type = detail.objectValue?["type"]?.stringValue { details[type] = detail.objectValue?["valueString"]?.stringValue }
            }
            let outcome = event["outcome"]?.stringValue ?? "?"
            let purpose = event["purposeOfEvent"]?.arrayValue?.first?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"]?.stringValue ?? "?"
            let recorded = event["recorded"]?.stringValue ?? ""
            events.append((recorded, "  AuditEvent/\(id.prefix(8))… \(recorded) who \(client) (\(org)), patient \(visit.patient), purpose \(purpose), "
                           + "outcome \(outcome) (\(outcome == "0" ? "success" : "refused")), \(details["consent-decision"] ?? "?") at ledger height \(details["ledger-height"] ?? "?")",
                           outcome == "0"))
        }
        events.sort { $0.recorded < $1.recorded }
        print("  audit       \(events.count) AuditEvent(s) of these accesses, read back from the store (anchored like any record):")
        for event in events { print(event.line) }
        let refused = events.contains { !$0.success }, granted = events.contains { $0.success }
        return refused && granted ? 0 : 1
    }

    /// The same exchange by hand, with the gateway running on this network's first home.
    func printByHand(_ visit: PartnerVisit) {
        let home = URL(fileURLWithPath: homePath).appendingPathComponent("node0").path
        print("  by hand     after the demo, node0 alone serves the same gateway (SIGINT stops it):")
        print("              careledger node start --home \(home) --store \(storeOptions.store) --http 127.0.0.1:\(basePort + 80) &")
        print("              TOKEN=$(python3 scripts/smart_token.py --token-url \(gatewayURL)/auth/token --client-id \(Self.partnerClientId) \\")
        print("                --key \(partnerKeyFile) --alg ES384 --kid \(Self.partnerKid) --scope '\(Self.partnerScope)' --purpose TREAT)")
        print("              curl -s -H \"Authorization: Bearer $TOKEN\" \(gatewayURL)/\(visit.patient)")
        print("              (--purpose HMARKT instead: 403 with an OperationOutcome)")
    }
}

/// The demo's HTTP client (Foundation's URLSession): the partner's side of the exchange, over loopback.
enum DemoHTTP {
    struct Answer {
        var status: Int
        var body: Data
        var etag: String?
    }

    static func send(_ method: String, _ url: String, headers: [String: String], body: Data?) async throws -> Answer {
        guard let target = URL(string: url) else { throw ValidationError("not a URL: \(url)") }
        var request = URLRequest(url: target, timeoutInterval: 60)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.connectionProxyDictionary = [:]
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        return Answer(status: http?.statusCode ?? 0, body: data, etag: http?.value(forHTTPHeaderField: "ETag"))
    }

    /// Whether `base`/health answers 200 within 60 s.
    static func waitForHealth(_ base: String) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let answer = try? await send("GET", base + "/health", headers: [:], body: nil), answer.status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
