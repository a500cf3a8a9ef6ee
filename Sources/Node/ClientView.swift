public import Foundation
public import Ledger

/// A partner's SMART client as the ledger has it, as `GET /client?id=ID` answers (docs/node.md) and the gateway's
/// client directory reads it: who registered it (the participant's key, name and organization identifiers, which
/// the gateway matches to consent actors), its public keys and the scopes the consortium grants.
public struct ClientView: Codable, Sendable, Hashable {
    public var clientId: String
    /// The participant that registered the client: its Ed25519 public key, hex.
    public var participant: String
    public var participantName: String
    /// The participant's organization identifiers, `system|value`.
    public var identifiers: [String]
    /// The registered JWKS (RFC 7517).
    public var jwks: OpaqueJSON
    public var scopes: [String]
    /// The height of the latest registration: when these keys and scopes took effect.
    public var height: UInt64
    /// The height of the first registration of this client id.
    public var registeredAt: UInt64
    /// The committed height the answer was read at.
    public var stateHeight: UInt64

    public init(clientId: String, participant: String, participantName: String, identifiers: [String], jwks: OpaqueJSON, scopes: [String],
                height: UInt64, registeredAt: UInt64, stateHeight: UInt64) {
        self.clientId = clientId
        self.participant = participant
        self.participantName = participantName
        self.identifiers = identifiers
        self.jwks = jwks
        self.scopes = scopes
        self.height = height
        self.registeredAt = registeredAt
        self.stateHeight = stateHeight
    }

    /// The view of `id` in `state` (committed at `height`), or nil when no such client is registered.
    public init?(_ id: String, in state: LedgerState, at height: UInt64) {
        guard let record = state.client(id) else { return nil }
        // The ledger admitted the JWKS only as strict JSON (JWKSDocument), so it decodes.
        let jwks = (try? JSONDecoder().decode(OpaqueJSON.self, from: Data(record.registration.jwks))) ?? .null
        self.init(clientId: id, participant: Hex.encode(record.participant.bytes), participantName: state.participants[record.participant]?.name ?? "",
                  identifiers: state.identifiers(of: record.participant), jwks: jwks, scopes: record.registration.scopes,
                  height: record.height, registeredAt: record.registeredAt, stateHeight: height)
    }

    /// The JWKS as JSON bytes, for a JOSE library to read.
    public func jwksJSON() throws -> Data { try JSONEncoder().encode(jwks) }
}

/// A participant as `GET /participant?key=HEX` or `?identifier=SYSTEM|VALUE` answers (docs/node.md): its name,
/// organization identifiers, stake and the next nonce it signs with (what `careledger client register` needs).
public struct ParticipantView: Codable, Sendable, Hashable {
    /// Its Ed25519 public key, hex.
    public var participant: String
    public var name: String
    public var identifiers: [String]
    public var stake: UInt64
    public var jailed: Bool
    /// The nonce its next transaction carries, counting those waiting in the node's mempool.
    public var nextNonce: UInt64
    /// The committed height the answer was read at.
    public var stateHeight: UInt64

    public init(participant: String, name: String, identifiers: [String], stake: UInt64, jailed: Bool, nextNonce: UInt64, stateHeight: UInt64) {
        self.participant = participant
        self.name = name
        self.identifiers = identifiers
        self.stake = stake
        self.jailed = jailed
        self.nextNonce = nextNonce
        self.stateHeight = stateHeight
    }
}
