import Foundation
import Ledger
import Node

/// Seeds that cannot be files in `../shared/corpus`: receipts, consent proofs and ledger values made by the same
/// code a node runs (``SampleChain``), so the fuzzers start from inputs every reader accepts. `scripts/fuzz.sh`
/// writes them into a run's corpus (careledger-fuzz with `CARELEDGER_FUZZ_WRITE_SEEDS`); `FuzzTests` checks each.
public enum GeneratedSeeds {
    public struct Seed: Sendable {
        public let name: String
        public let bytes: [UInt8]
    }

    public static func seeds(for target: FuzzTarget) throws -> [Seed] {
        switch target {
        case .receiptJSON: return try receipts()
        case .proofJSON: return try proofs()
        case .ledgerDecode: return try ledgerValues()
        case .fhirJSON, .fhirXML, .hl7ER7, .ccdaXML, .mllpFrame: return []
        }
    }

    private static let chainId = "careledger-fuzz"

    private static func key() throws -> SigningKey {
        try SigningKey(seed: [UInt8](repeating: 7, count: 32))
    }

    private static func anchored() throws -> [SampleChain.AnchoredReceipt] {
        try SampleChain.anchoredReceipts(chainId: chainId, key: key(),
                                         records: (0..<3).map { Array(#"{"resourceType":"Patient","id":"f\#($0)"}"#.utf8) })
    }

    private static func receipts() throws -> [Seed] {
        var out: [Seed] = []
        for (n, a) in try anchored().enumerated() {
            out.append(Seed(name: "receipt-v1-\(n).json", bytes: Array(try ReceiptJSON.encode(a.receipt))))
            var light = a.receipt
            light.validators = a.validators
            out.append(Seed(name: "receipt-v2-\(n).json", bytes: Array(try ReceiptJSON.encode(light))))
        }
        return out
    }

    private static func proofs() throws -> [Seed] {
        let a = try key()
        let state = LedgerState(chainId: chainId, participants: [(a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 10))])
        let validators = state.validators
        let header = BlockHeader(chainId: chainId, height: 1, time: 1_000, previousBlockId: [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot([]), stateRoot: state.root, validatorsHash: validators.hash,
                                 nextValidatorsHash: validators.hash, proposer: a.publicKey)
        let vote = voteSignBytes(chainId: chainId, kind: .precommit, height: 1, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: 1, round: 0, blockId: header.id,
                                       signatures: [CommitSignature(validator: a.publicKey, signature: try a.sign(vote))])
        let query = ConsentQuery(patient: Array(repeating: 0x42, count: 32), actors: ["urn:oid:2.16.840.1.113883.3.72|hospital-b"],
                                 purposes: ["http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"], at: 1_700_000_000_000)
        var out: [Seed] = []
        let plain = try ConsentProof.make(state: state, query: query, header: header, commit: commit)
        out.append(Seed(name: "proof-absent.json", bytes: Array(try ConsentJSON.encode(plain))))
        let light = try ConsentProof.make(state: state, query: query, header: header, commit: commit, validators: validators)
        out.append(Seed(name: "proof-absent-validators.json", bytes: Array(try ConsentJSON.encode(light))))
        return out
    }

    /// Each value prefixed by the byte that selects its type in the ledger-decode target.
    private static func ledgerValues() throws -> [Seed] {
        let r = try anchored()[0].receipt
        let anchor = try Transaction(encoded: r.anchorTransaction)
        let block = Block(header: r.header, transactions: [anchor], lastCommit: r.commit)
        let k = try key()
        let x = try SignedVote(signing: .precommit, height: 2, round: 0, blockId: Array(repeating: 1, count: 32), chainId: chainId, with: k)
        let y = try SignedVote(signing: .precommit, height: 2, round: 0, blockId: Array(repeating: 2, count: 32), chainId: chainId, with: k)
        let client = RegisterClient(clientId: "partner-b",
                                    jwks: Array(#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"b\u0031"}]}"#.utf8),
                                    scopes: ["system/*.rs"])
        let values: [(String, [UInt8])] = [
            ("NetworkMessage", NetworkMessage.transactions([anchor]).encoded),
            ("NetworkMessage", NetworkMessage.status(height: 7).encoded),
            ("NetworkMessage", NetworkMessage.block(StoredBlock(block: block, commit: r.commit)).encoded),
            ("Transaction", anchor.encoded),
            ("Block", block.encoded),
            ("BlockHeader", r.header.encoded),
            ("CommitCertificate", r.commit.encoded),
            ("SignedVote", x.encoded),
            ("DuplicateVoteEvidence", DuplicateVoteEvidence(x, y).encoded),
            ("Participant", Participant(name: "Hospital A", nodeKey: k.publicKey, stake: 10).encoded),
            ("Transaction", try Transaction(signing: .registerClient(client), nonce: 1, chainId: chainId, with: k).encoded),
            ("Transaction", try Transaction(signing: .setIdentifiers(ParticipantIdentifiers(["http://hl7.org/fhir/sid/us-npi|1234567893"])), nonce: 2,
                                            chainId: chainId, with: k).encoded),
            ("ClientRecord", ClientRecord(registration: client, participant: k.publicKey, height: 3, registeredAt: 1).encoded),
            ("JWKSDocument", client.jwks),
        ]
        return try values.enumerated().map { n, value in
            guard let selector = LedgerProperties.selector(for: value.0) else {
                throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "no decoder named \(value.0)"])
            }
            return Seed(name: "\(n)-\(value.0).bin", bytes: [selector] + value.1)
        }
    }
}
