public import Contracts
public import Foundation
public import Ledger

/// Allocation proofs as JSON (`careledger-allocation-proof/1`, docs/contracts.md): what `contract explain --prove`
/// writes and `careledger verify` reads. The readable part (`result`, `explanation`) is the rendering of the proven
/// entry, and a verifier checks that it is; the evidence (`header`, `commit`, `entry`, `lightPath`, `validators`)
/// is base64 of the ledger encoding, as in consent proofs.
public enum AllocationJSON {
    public static let proofFormat = "careledger-allocation-proof/1"
    static let subject = "allocation proof"

    /// An allocation as people read it: amounts exact, as "7", "7/2".
    public struct AllocationView: Codable, Sendable, Hashable {
        public var claimant: String
        public var units: String
        public var side: String?
        public var price: String?
        public var category: String?

        public init(_ a: Allocation) {
            claimant = a.claimant
            units = a.units.description
            side = a.side?.rawValue
            price = a.price?.description
            category = a.category
        }
    }

    public struct StepView: Codable, Sendable, Hashable {
        public var kind: String
        public var claimant: String?
        public var amounts: [String]
        public var note: String

        public init(_ s: Step) {
            kind = s.kind
            claimant = s.claimant
            amounts = s.amounts.map(\.description)
            note = s.note
        }
    }

    /// An epoch's result as people read it; with a claimant, only its allocations and the steps that concern it.
    public struct ResultView: Codable, Sendable, Hashable {
        public var contract: String
        public var version: UInt32
        public var epoch: UInt64
        public var mechanism: String
        public var supply: String
        public var free: String
        public var price: String?
        public var gasUsed: UInt64
        public var failure: String?
        public var allocations: [AllocationView]
        public var explanation: [StepView]

        public init(_ r: EpochResult, claimant: String?) {
            contract = r.contract
            version = r.version
            epoch = r.epoch
            mechanism = r.mechanism.rawValue
            supply = r.supply.description
            free = r.free.description
            price = r.price?.description
            gasUsed = r.gasUsed
            failure = r.failure?.description
            allocations = (claimant.map { r.allocations(of: $0) } ?? r.allocations).map(AllocationView.init)
            explanation = (claimant.map { r.steps(for: $0) } ?? r.steps).map(StepView.init)
        }
    }

    struct Entry: Encodable {
        var key, proof: String
        var value: String?
    }

    struct WrittenProof: Encodable {
        var format, chainId, contract: String
        var epoch: UInt64
        var claimant: String?
        var result: ResultView
        var header, commit: String
        var entry: Entry
        var lightPath: [LightJSON.Block]?
        var validators: [LightJSON.Member]?
    }

    /// The proof with the rendering of `result` (the proven result; ``AllocationProof/verify`` gives it).
    public static func encode(_ p: AllocationProof, result: EpochResult) throws -> Data {
        let written = WrittenProof(
            format: proofFormat, chainId: p.header.chainId, contract: p.contract, epoch: p.epoch, claimant: p.claimant,
            result: ResultView(result, claimant: p.claimant), header: Base64.encode(p.header.encoded), commit: Base64.encode(p.commit.encoded),
            entry: Entry(key: Base64.encode(p.entry.key), proof: Base64.encode(p.entry.proof.encoded()), value: p.entry.value.map(Base64.encode)),
            lightPath: p.lightPath.isEmpty ? nil : p.lightPath.map(LightJSON.Block.init), validators: p.validators.map(LightJSON.validatorSet))
        return try LightJSON.encode(written)
    }

    /// Reads a proof; errors name the member by its JSON pointer.
    static func proof(_ o: JSONMember) throws(ReceiptDecodingError) -> AllocationProof {
        let format = try o.member("format")
        guard try format.string() == proofFormat else { throw format.fail("is not \"\(proofFormat)\"") }
        let (header, commit) = try LightJSON.headerAndCommit(o)
        var validators: ValidatorSet?
        if let v = try o.optionalMember("validators") { validators = try LightJSON.validatorSet(v) }
        let lightPath = try o.optionalMember("lightPath").map { (m) throws(ReceiptDecodingError) in try LightJSON.lightPath(m) } ?? []
        let claimant = try o.optionalMember("claimant")?.string()
        return AllocationProof(contract: try o.member("contract").string(), epoch: try o.member("epoch").integer(UInt64.self), claimant: claimant,
                               header: header, commit: commit, entry: try ConsentJSON.entry(try o.member("entry")), lightPath: lightPath, validators: validators)
    }

    /// Whether the document's `result` is the rendering of `proven` for the proof's claimant, so that what a
    /// reader sees is what was proven.
    public static func resultMatches(_ document: Data, _ proof: AllocationProof, proven: EpochResult) -> Bool {
        struct Shown: Decodable { var result: ResultView }
        guard let shown = try? JSONDecoder().decode(Shown.self, from: document) else { return false }
        return shown.result == ResultView(proven, claimant: proof.claimant)
    }
}
