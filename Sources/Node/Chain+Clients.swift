public import Ledger

/// The committed state's participants and SMART clients, read in one step on the chain's actor (so the answer and
/// its height belong together).
extension Chain {
    /// The client registered as `id`, or nil.
    public func clientView(_ id: String) -> ClientView? {
        ClientView(id, in: state, at: height)
    }

    /// The participant with `key`, or nil.
    public func participantView(_ key: PublicKey) -> ParticipantView? {
        guard let p = state.participants[key] else { return nil }
        return ParticipantView(participant: Hex.encode(key.bytes), name: p.name, identifiers: state.identifiers(of: key), stake: p.stake,
                               jailed: p.jailed, nextNonce: nextNonce(of: key), stateHeight: height)
    }

    /// The participant that holds the organization identifier `system|value`, or nil.
    public func participantView(identifier: String) -> ParticipantView? {
        state.holder(of: identifier).flatMap(participantView)
    }
}
