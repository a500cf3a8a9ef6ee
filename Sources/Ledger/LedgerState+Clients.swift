/// Participant identifiers and SMART client registrations (docs/ledger-encoding.md, tags 7 and 8): the rules
/// `apply` enforces, and the queries a node answers from them.
extension LedgerState {
    /// The state of a chain at genesis whose participants already carry organization identifiers (from
    /// `genesis.json`). Refused, with the participant named, when a list breaks the rules or two participants
    /// claim one identifier.
    public init(chainId: String, participants: [(key: PublicKey, participant: Participant)],
                identifiers: [(key: PublicKey, identifiers: [String])]) throws(TransactionError) {
        self.init(chainId: chainId, participants: participants)
        for (key, list) in identifiers.sorted(by: { $0.key < $1.key }) where !list.isEmpty {
            guard participants.contains(where: { $0.key == key }) else {
                throw TransactionError(.unknownParticipant, "identifiers for \(key), which is not a genesis participant")
            }
            try assign(ParticipantIdentifiers(list), to: key)
        }
        settle()
    }

    /// The identifiers a participant holds (empty when none).
    public func identifiers(of key: PublicKey) -> [String] { identifiers[key]?.identifiers ?? [] }

    /// The participant that holds `identifier` (`system|value`), if any.
    public func holder(of identifier: String) -> PublicKey? { identifierHolders[identifier] }

    /// The registered client with this id, if any.
    public func client(_ id: String) -> ClientRecord? { clients[id] }

    /// Replaces `key`'s identifiers with `list`: each must be valid and not held by another participant. The
    /// identifiers it gives up become free for others.
    mutating func assign(_ list: ParticipantIdentifiers, to key: PublicKey) throws(TransactionError) {
        if let reason = ParticipantIdentifiers.problem(list.identifiers) { throw TransactionError(.invalidIdentifier, reason) }
        for identifier in list.identifiers {
            if let holder = identifierHolders[identifier], holder != key {
                throw TransactionError(.identifierTaken, "the identifier '\(identifier)' is held by participant \(holder)")
            }
        }
        let released = identifiers(of: key).filter { !list.identifiers.contains($0) }
        for identifier in released {
            identifierHolders[identifier] = nil
            set(.identifier(identifier), nil)
        }
        for identifier in list.identifiers where identifierHolders[identifier] == nil {
            identifierHolders[identifier] = key
            set(.identifier(identifier), key.bytes)
        }
        if list.identifiers.isEmpty {
            identifiers[key] = nil
            set(.identifiers(key), nil)
        } else {
            identifiers[key] = list
            set(.identifiers(key), list.encoded)
        }
    }

    /// Registers a client for `signer`, or replaces its keys and scopes when `signer` registered it before.
    mutating func register(_ registration: RegisterClient, by signer: PublicKey, height: UInt64) throws(TransactionError) {
        _ = try participant(signer)
        if let problem = registration.problem() { throw problem }
        var registeredAt = height
        if let existing = clients[registration.clientId] {
            guard existing.participant == signer else {
                throw TransactionError(.clientTaken, "the client id '\(registration.clientId)' is registered by participant \(existing.participant); only it rotates the client's keys")
            }
            registeredAt = existing.registeredAt
        }
        let record = ClientRecord(registration: registration, participant: signer, height: height, registeredAt: registeredAt)
        clients[registration.clientId] = record
        set(.client(id: registration.clientId), record.encoded)
    }
}
