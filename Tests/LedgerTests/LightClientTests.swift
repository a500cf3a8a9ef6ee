import Ledger
import Testing

/// Hand-made light blocks: keys from fixed seeds, headers that link, commits signed by the keys asked for.
private enum Light {
    static let chainId = "careledger-light"

    static func key(_ n: UInt8) throws -> SigningKey { try SigningKey(seed: [UInt8](repeating: n, count: 32)) }

    static func set(_ members: [(SigningKey, UInt64)]) -> ValidatorSet {
        ValidatorSet(members.map { Validator(key: $0.0.publicKey, power: $0.1) })
    }

    static func commit(_ header: BlockHeader, signers: [SigningKey]) throws -> CommitCertificate {
        let vote = voteSignBytes(chainId: header.chainId, kind: .precommit, height: header.height, round: 0, blockId: header.id)
        return CommitCertificate(height: header.height, round: 0, blockId: header.id,
                                 signatures: try signers.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(vote)) })
    }

    /// Block `height`, after `previous` (its id, zeros for block 1), signed by `signers`.
    static func block(_ height: UInt64, previous: [UInt8] = [UInt8](repeating: 0, count: 32), validators: ValidatorSet, next: ValidatorSet? = nil,
                      signers: [SigningKey], chainId: String = chainId) throws -> LightBlock {
        let header = BlockHeader(chainId: chainId, height: height, time: 1_000 * Int64(height), previousBlockId: previous,
                                 transactionsRoot: Merkle.emptyRoot, stateRoot: [UInt8](repeating: 7, count: 32), validatorsHash: validators.hash,
                                 nextValidatorsHash: (next ?? validators).hash, proposer: validators.validators[0].key)
        return LightBlock(header: header, commit: try commit(header, signers: signers), validators: validators, nextValidators: next ?? validators)
    }

    static func genesis(_ validators: ValidatorSet) -> TrustedState { TrustedState.genesis(chainId: chainId, validators: validators) }

    /// The rule that refused `block` from `trusted`, or nil when it verified.
    static func refusal(_ block: LightBlock, from trusted: TrustedState) -> LightClientError.Code? {
        var cache = SignatureCache()
        do throws(LightClientError) {
            _ = try LightClient.verify(block, from: trusted, cache: &cache)
            return nil
        } catch {
            return error.code
        }
    }

    static func refusal(path: [LightBlock], from trusted: TrustedState) -> LightClientError? {
        var cache = SignatureCache()
        do throws(LightClientError) {
            _ = try LightClient.verify(path: path, from: trusted, cache: &cache)
            return nil
        } catch {
            return error
        }
    }
}

@Suite("Light client verification")
struct LightClientTests {
    @Test func anAdjacentBlockIsSignedByTheSetTheTrustedBlockNamedNext() throws {
        let (a, b, c) = (try Light.key(1), try Light.key(2), try Light.key(3))
        let g = Light.set([(a, 1), (b, 1), (c, 1)])
        let one = try Light.block(1, validators: g, signers: [a, b, c])
        var cache = SignatureCache()
        let trusted = try LightClient.verify(one, from: Light.genesis(g), cache: &cache)
        #expect(trusted.height == 1 && trusted.blockId == one.header.id && trusted.nextValidators == g && trusted.time == one.header.time)
        let two = try Light.block(2, previous: one.header.id, validators: g, signers: [b, c, a])
        #expect(Light.refusal(two, from: trusted) == nil)

        // Exactly two thirds is not enough.
        #expect(Light.refusal(try Light.block(2, previous: one.header.id, validators: g, signers: [a, b]), from: trusted) == .insufficientPower)
        // A block that does not name the trusted block as its previous one.
        #expect(Light.refusal(try Light.block(2, previous: [UInt8](repeating: 1, count: 32), validators: g, signers: [a, b, c]), from: trusted) == .notLinked)
        // Adjacent, another set signed it: not the one the trusted block named next, however well it signed.
        let (x, y) = (try Light.key(4), try Light.key(5))
        let other = Light.set([(a, 1), (x, 1), (y, 1)])
        #expect(Light.refusal(try Light.block(2, previous: one.header.id, validators: other, signers: [a, x, y]), from: trusted) == .untrustedValidators)
        // Block 1 of another chain.
        #expect(Light.refusal(try Light.block(1, validators: g, signers: [a, b, c], chainId: "another-chain"), from: Light.genesis(g)) == .wrongChain)
    }

    /// The trust level: the trusted validators that signed must hold more than 1/3 of the trusted power; exactly
    /// 1/3 is refused. Trusted powers 100, 101, 99 (total 300): 100 is exactly a third, 101 is more.
    @Test(arguments: [(signer: 1, verifies: false), (signer: 2, verifies: true), (signer: 3, verifies: false)])
    func skippingNeedsMoreThanOneThirdOfTheTrustedPower(signer: Int, verifies: Bool) throws {
        let trustedKeys = [try Light.key(1), try Light.key(2), try Light.key(3)]
        let g = Light.set([(trustedKeys[0], 100), (trustedKeys[1], 101), (trustedKeys[2], 99)])
        let (x, y) = (try Light.key(4), try Light.key(5))
        let carried = trustedKeys[signer - 1]
        // Block 5's set: one trusted validator and two new ones, all signing.
        let target = try Light.block(5, validators: Light.set([(carried, 1), (x, 1), (y, 1)]), signers: [carried, x, y])
        #expect(Light.refusal(target, from: Light.genesis(g)) == (verifies ? nil : .insufficientTrust))
    }

    @Test func skippingStillNeedsTwoThirdsOfTheTargetsOwnSet() throws {
        let keys = try (1...6).map { try Light.key(UInt8($0)) }
        let g = Light.set(keys.prefix(3).map { ($0, 1) })
        let wide = Light.set(keys.map { ($0, 1) })
        // All the trusted validators signed (full trust), but they are half of block 4's set.
        #expect(Light.refusal(try Light.block(4, validators: wide, signers: Array(keys.prefix(3))), from: Light.genesis(g)) == .insufficientPower)
        #expect(Light.refusal(try Light.block(4, validators: wide, signers: Array(keys.prefix(5))), from: Light.genesis(g)) == nil)
    }

    @Test func aForgedValidatorSetIsRefused() throws {
        let (a, b, c, d) = (try Light.key(1), try Light.key(2), try Light.key(3), try Light.key(4))
        let g = Light.set([(a, 1), (b, 1), (c, 1), (d, 1)])
        // A real block 3 signed by a alone (not final), shown with a set in which a holds nearly all the power.
        var forged = try Light.block(3, validators: g, signers: [a])
        forged.validators = Light.set([(a, 100), (b, 1), (c, 1), (d, 1)])
        #expect(Light.refusal(forged, from: Light.genesis(g)) == .validatorSetMismatch)
        // A true block, with a forged next set (what a later skipping step would trust).
        var next = try Light.block(3, validators: g, signers: [a, b, c, d])
        #expect(Light.refusal(next, from: Light.genesis(g)) == nil)
        next.nextValidators = Light.set([(a, 1)])
        #expect(Light.refusal(next, from: Light.genesis(g)) == .nextValidatorSetMismatch)
        // A whole fork: keys of the attacker's own, a header naming them, every signature valid.
        let mallory = try (10...13).map { try Light.key(UInt8($0)) }
        let fork = Light.set(mallory.map { ($0, 1000) })
        #expect(Light.refusal(try Light.block(3, validators: fork, signers: mallory), from: Light.genesis(g)) == .insufficientTrust)
        #expect(Light.refusal(try Light.block(1, validators: fork, signers: mallory), from: Light.genesis(g)) == .untrustedValidators)
    }

    @Test func aCommitByUnknownKeysOrWithBadSignaturesIsRefused() throws {
        let (a, b, c, z) = (try Light.key(1), try Light.key(2), try Light.key(3), try Light.key(9))
        let g = Light.set([(a, 1), (b, 1), (c, 1)])
        // z is in no set: its precommit, though a valid signature, is refused rather than ignored.
        #expect(Light.refusal(try Light.block(1, validators: g, signers: [a, b, c, z]), from: Light.genesis(g)) == .invalidCommit)
        #expect(Light.refusal(try Light.block(4, validators: g, signers: [a, b, z]), from: Light.genesis(g)) == .invalidCommit)
        // A signature that does not verify.
        var bad = try Light.block(1, validators: g, signers: [a, b, c])
        bad.commit.signatures[1].signature[0] ^= 1
        #expect(Light.refusal(bad, from: Light.genesis(g)) == .invalidCommit)
        // The same validator twice.
        var twice = try Light.block(1, validators: g, signers: [a, b])
        twice.commit.signatures.append(twice.commit.signatures[0])
        #expect(Light.refusal(twice, from: Light.genesis(g)) == .invalidCommit)
        // A certificate for another block.
        var other = try Light.block(1, validators: g, signers: [a, b, c])
        other.commit = try Light.commit(try Light.block(2, validators: g, signers: []).header, signers: [a, b, c])
        #expect(Light.refusal(other, from: Light.genesis(g)) == .commitMismatch)
    }

    @Test func aPathGoesUpOneVerifiedBlockAtATime() throws {
        let keys = try (1...6).map { try Light.key(UInt8($0)) }
        // The set turns over: g = k1 k2 k3, then k2 k3 k4 from block 3, then k4 k5 k6 from block 6.
        let g = Light.set(keys[0..<3].map { ($0, 1) })
        let s2 = Light.set(keys[1..<4].map { ($0, 1) })
        let s3 = Light.set(keys[3..<6].map { ($0, 1) })
        let b2 = try Light.block(2, validators: g, next: s2, signers: Array(keys[0..<3]))
        let b4 = try Light.block(4, validators: s2, next: s3, signers: Array(keys[1..<4]))
        let b8 = try Light.block(8, validators: s3, signers: Array(keys[3..<6]))
        // Straight from the genesis to block 8: no trusted validator signed it.
        #expect(Light.refusal(b8, from: Light.genesis(g)) == .insufficientTrust)
        var cache = SignatureCache()
        let end = try LightClient.verify(path: [b2, b4, b8], from: Light.genesis(g), cache: &cache)
        #expect(end.height == 8 && end.blockId == b8.header.id)
        // Out of order, repeated, or with a step left out, it fails at the height where the rule broke.
        let swapped = Light.refusal(path: [b4, b2, b8], from: Light.genesis(g))
        #expect(swapped?.code == .notAfterTrusted && swapped?.height == 2 && swapped?.trustedHeight == 4)
        #expect(Light.refusal(path: [b2, b2, b4, b8], from: Light.genesis(g))?.code == .notAfterTrusted)
        let gap = Light.refusal(path: [b2, b8], from: Light.genesis(g))
        #expect(gap?.code == .insufficientTrust && gap?.height == 8 && gap?.trustedHeight == 2)
        #expect(gap?.description.contains("block 8 from trusted height 2") == true)
        // A block whose time is not after the trusted block's.
        var early = b4
        early.header.time = b2.header.time
        early.commit = try Light.commit(early.header, signers: Array(keys[1..<4]))
        #expect(Light.refusal(path: [b2, early], from: Light.genesis(g))?.code == .timeNotAfterTrusted)
    }
}
