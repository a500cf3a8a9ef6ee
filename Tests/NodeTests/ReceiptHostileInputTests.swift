import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// Receipts and consent proofs as a hostile sender writes them (issue 16, items 9, 12 and 15): `true` where an integer
/// belongs, truncated texts, texts above the size bound, duplicate members, deep nesting, lists above their limits.
/// Each is refused before any check runs, with its JSON pointer (or where the text ends) and the bound it broke.
@Suite("Hostile receipts and consent proofs")
struct ReceiptHostileInputTests {
    /// A hostile input, the error it must get, and its file name among the fuzz seeds.
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var code: ReceiptDecodingError.Code
        /// The JSON pointer the error must name (nil: not checked, as for truncation).
        var pointer: String?
        var description: String { name }
    }

    static let chainId = "careledger-hostile"

    static func key() throws -> SigningKey { try SigningKey(seed: [UInt8](repeating: 9, count: 32)) }

    /// A careledger-receipt/2 (a light path of one block and the block's validators), so that every integer member
    /// of the format is present.
    static func receipt() throws -> Receipt {
        let fixture = try SampleChain.anchoredReceipt(chainId: chainId, key: try key())
        var receipt = fixture.receipt
        receipt.validators = fixture.validators
        receipt.lightPath = [LightBlock(header: receipt.header, commit: receipt.commit, validators: fixture.validators, nextValidators: fixture.validators)]
        return receipt
    }

    /// A careledger-consent-proof/2 of a patient without directives, with a light path of one block.
    static func proof() throws -> ConsentProof {
        let a = try key()
        let state = LedgerState(chainId: chainId, participants: [(a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 10))])
        let validators = state.validators
        let header = BlockHeader(chainId: chainId, height: 1, time: 1_000, previousBlockId: [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot([]), stateRoot: state.root, validatorsHash: validators.hash,
                                 nextValidatorsHash: validators.hash, proposer: a.publicKey)
        let vote = voteSignBytes(chainId: chainId, kind: .precommit, height: 1, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: 1, round: 0, blockId: header.id, signatures: [CommitSignature(validator: a.publicKey, signature: try a.sign(vote))])
        let query = ConsentQuery(patient: Array(repeating: 0x42, count: 32), actors: ["urn:oid:2.16.840.1.113883.3.72|hospital-b"],
                                 purposes: ["http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"], at: 1_700_000_000_000)
        return try ConsentProof.make(state: state, query: query, header: header, commit: commit,
                                     lightPath: [LightBlock(header: header, commit: commit, validators: validators, nextValidators: validators)],
                                     validators: validators)
    }

    /// Every integer member of a receipt, as JSON pointers.
    static let receiptIntegers = [
        "/leaf/index", "/leaf/treeSize", "/anchor/index", "/anchor/count", "/block/header/height", "/block/header/time",
        "/block/commit/height", "/block/commit/round", "/block/validators/0/power", "/lightPath/0/header/height", "/lightPath/0/header/time",
        "/lightPath/0/commit/height", "/lightPath/0/commit/round", "/lightPath/0/validators/0/power", "/lightPath/0/nextValidators/0/power",
    ]

    /// Every integer member of a consent proof the reader reads (the `response` card is compared, not read).
    static let proofIntegers = [
        "/query/at", "/validators/0/power", "/lightPath/0/header/height", "/lightPath/0/header/time", "/lightPath/0/commit/height",
        "/lightPath/0/commit/round", "/lightPath/0/validators/0/power", "/lightPath/0/nextValidators/0/power",
    ]

    // MARK: Building hostile inputs

    /// `object` with the value at `pointer` replaced by `value`.
    static func replacing(_ pointer: String, with value: Any, in object: Any) -> Any {
        let steps = pointer.split(separator: "/").map(String.init)
        func go(_ node: Any, _ rest: ArraySlice<String>) -> Any {
            guard let step = rest.first else { return value }
            if var o = node as? [String: Any] {
                o[step] = go(o[step] ?? NSNull(), rest.dropFirst())
                return o
            }
            if var a = node as? [Any], let n = Int(step), a.indices.contains(n) {
                a[n] = go(a[n], rest.dropFirst())
                return a
            }
            return node
        }
        return go(object, steps[...])
    }

    static func json(_ object: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]))
    }

    static func receiptObject() throws -> Any { try JSONSerialization.jsonObject(with: try ReceiptJSON.encode(try receipt())) }
    static func proofObject() throws -> Any { try JSONSerialization.jsonObject(with: try ConsentJSON.encode(try proof())) }

    /// `true`, `false` and a string where each integer belongs, a fraction and values out of range.
    static func integerCases(_ object: Any, pointers: [String], prefix: String) throws -> [Case] {
        var out: [Case] = []
        for p in pointers {
            let slug = p.dropFirst().replacingOccurrences(of: "/", with: "-")
            for (what, value) in [("true", true as Any), ("false", false as Any), ("string", "1" as Any)] {
                out.append(Case(name: "\(prefix)-\(slug)-\(what).json", bytes: try json(replacing(p, with: value, in: object)), code: .member, pointer: p))
            }
        }
        // A fraction, a negative height, a round above UInt32.max, and a number above UInt64.max (written by hand:
        // JSONSerialization cannot).
        let text = String(decoding: try json(object), as: UTF8.self)
        out.append(Case(name: "\(prefix)-fraction-height.json", bytes: try json(replacing(pointers.first { $0.hasSuffix("height") } ?? "", with: 1.5, in: object)),
                        code: .member, pointer: pointers.first { $0.hasSuffix("height") }))
        out.append(Case(name: "\(prefix)-negative-height.json", bytes: try json(replacing("/lightPath/0/header/height", with: -1, in: object)),
                        code: .member, pointer: "/lightPath/0/header/height"))
        out.append(Case(name: "\(prefix)-round-above-uint32.json", bytes: try json(replacing("/lightPath/0/commit/round", with: UInt64(UInt32.max) + 1, in: object)),
                        code: .member, pointer: "/lightPath/0/commit/round"))
        let huge = text.replacingOccurrences(of: "\"round\" : 0", with: "\"round\" : 18446744073709551616")
        // Every round is replaced; the block's comes first in a receipt (keys are sorted), a proof has only the path's.
        out.append(Case(name: "\(prefix)-round-above-uint64.json", bytes: Array(huge.utf8), code: .member,
                        pointer: prefix == "receipt" ? "/block/commit/round" : "/lightPath/0/commit/round"))
        return out
    }

    /// Texts that are not receipts at all: truncated, duplicate members, too deep, lists above their limits.
    static func syntaxCases(_ object: Any, prefix: String, longList: String, limit: Int) throws -> [Case] {
        let bytes = trimmed(try json(object))
        let text = String(decoding: bytes, as: UTF8.self)
        var out: [Case] = [
            Case(name: "\(prefix)-truncated-half.json", bytes: Array(bytes.prefix(bytes.count / 2)), code: .truncated, pointer: nil),
            Case(name: "\(prefix)-truncated-last-brace.json", bytes: Array(bytes.dropLast()), code: .truncated, pointer: nil),
            Case(name: "\(prefix)-empty.json", bytes: [], code: .truncated, pointer: nil),
            Case(name: "\(prefix)-array-not-object.json", bytes: Array("[\(text)]".utf8), code: .malformed, pointer: ""),
            Case(name: "\(prefix)-trailing-garbage.json", bytes: bytes + Array("{}".utf8), code: .malformed, pointer: ""),
        ]
        // The first member written twice: readers could each pick another value.
        let duplicate = text.replacingOccurrences(of: "{\n  \"", with: "{\n  \"format\" : \"x\",\n  \"", options: [], range: text.range(of: "{\n  \""))
        out.append(Case(name: "\(prefix)-duplicate-format.json", bytes: Array(duplicate.utf8), code: .malformed, pointer: ""))
        // Nesting deeper than the limit inside a member no reader looks at.
        let deep = String(repeating: "[", count: ReceiptLimits.maxDepth) + String(repeating: "]", count: ReceiptLimits.maxDepth)
        out.append(Case(name: "\(prefix)-nested-too-deep.json", bytes: Array(("{\"x\":" + deep + "," + text.dropFirst()).utf8), code: .tooDeep, pointer: nil))
        out.append(Case(name: "\(prefix)-lone-surrogate.json", bytes: try json(replacing("/chainId", with: "x", in: object)).replacingFirst("\"x\"", with: "\"\\uD800\""),
                        code: .malformed, pointer: "/chainId"))
        out.append(Case(name: "\(prefix)-list-above-limit.json", bytes: try json(replacing(longList, with: Array(repeating: "AAAA", count: limit + 1), in: object)),
                        code: .member, pointer: longList))
        out.append(Case(name: "\(prefix)-missing-format.json", bytes: try json((object as? [String: Any] ?? [:]).filter { $0.key != "format" }),
                        code: .member, pointer: "/format"))
        return out
    }

    /// `bytes` without trailing whitespace: every proper prefix of it is truncated.
    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        while let last = b.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 { b.removeLast() }
        return b
    }

    static func receiptCases() throws -> [Case] {
        let object = try receiptObject()
        return try integerCases(object, pointers: receiptIntegers, prefix: "receipt")
            + syntaxCases(object, prefix: "receipt", longList: "/inclusionProof", limit: ReceiptLimits.maxProofHashes)
    }

    static func proofCases() throws -> [Case] {
        let object = try proofObject()
        return try integerCases(object, pointers: proofIntegers, prefix: "proof")
            + syntaxCases(object, prefix: "proof", longList: "/query/actors", limit: ReceiptLimits.maxQueryTerms)
    }

    static func receiptError(_ bytes: [UInt8]) -> ReceiptDecodingError? {
        do throws(ReceiptDecodingError) {
            _ = try ReceiptJSON.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    static func proofError(_ bytes: [UInt8]) -> ReceiptDecodingError? {
        do throws(ReceiptDecodingError) {
            _ = try ConsentJSON.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    static func expect(_ error: ReceiptDecodingError?, _ c: Case, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("\(c.name) was accepted", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == c.code, "\(c.name): \(error)", sourceLocation: sourceLocation)
        if let pointer = c.pointer { #expect(error.pointer == pointer, "\(c.name): \(error)", sourceLocation: sourceLocation) }
        #expect(error.offset != nil && error.line != nil && error.column != nil, "\(c.name) has a location: \(error)", sourceLocation: sourceLocation)
    }

    // MARK: Tests

    @Test func theFixturesAreAcceptedSoEveryRefusalIsTheMutations() throws {
        let receipt = try Self.receipt()
        #expect(try ReceiptJSON.decode(Array(try ReceiptJSON.encode(receipt))) == receipt)
        let proof = try Self.proof()
        #expect(try ConsentJSON.decode(Array(try ConsentJSON.encode(proof))) == proof)
    }

    /// Item 12: `true`/`false` where an integer belongs (`height`, `index`, `round`, `count`, `power`, `time`, `at`)
    /// was read as 1/0; now each is refused with its JSON pointer.
    @Test func aBooleanWhereAnIntegerBelongsIsRefusedWithItsPointer() throws {
        for c in try Self.receiptCases() where c.name.hasSuffix("-true.json") || c.name.hasSuffix("-false.json") {
            let error = Self.receiptError(c.bytes)
            Self.expect(error, c)
            #expect(error?.reason == "is not an integer (found \(c.name.hasSuffix("-true.json")))", "\(c.name): \(String(describing: error))")
        }
        for c in try Self.proofCases() where c.name.hasSuffix("-true.json") || c.name.hasSuffix("-false.json") {
            let error = Self.proofError(c.bytes)
            Self.expect(error, c)
            #expect(error?.reason == "is not an integer (found \(c.name.hasSuffix("-true.json")))", "\(c.name): \(String(describing: error))")
        }
        // As a user reads it: the pointer, line and column.
        let heightTrue = try #require(try Self.receiptCases().first { $0.name == "receipt-block-header-height-true.json" })
        let text = "\(try #require(Self.receiptError(heightTrue.bytes)))"
        #expect(text.hasPrefix("receipt member /block/header/height (line ") && text.hasSuffix(" is not an integer (found true)"), "\(text)")
    }

    @Test func everyOtherHostileReceiptIsRefusedWithWhereAndWhy() throws {
        for c in try Self.receiptCases() { Self.expect(Self.receiptError(c.bytes), c) }
    }

    @Test func everyOtherHostileProofIsRefusedWithWhereAndWhy() throws {
        for c in try Self.proofCases() { Self.expect(Self.proofError(c.bytes), c) }
    }

    /// Item 15: every proper prefix of a receipt is "truncated" (it was "not a JSON object"), and says where it ends.
    @Test func everyPrefixOfAReceiptIsTruncatedNotMalformed() throws {
        let bytes = Self.trimmed(Array(try ReceiptJSON.encode(try Self.receipt())))
        for n in 0..<bytes.count {
            let error = Self.receiptError(Array(bytes.prefix(n)))
            #expect(error?.code == .truncated && error?.offset == n, "prefix of \(n) bytes: \(String(describing: error))")
        }
        let half = try #require(Self.receiptError(Array(bytes.prefix(bytes.count / 2))))
        #expect("\(half)".hasPrefix("the receipt is truncated at line "), "\(half)")
        #expect(!"\(half)".contains("not a JSON object"))
    }

    /// Item 9: a receipt or proof above ReceiptLimits.maxBytes is refused before it is parsed, and the error says the
    /// bound; one of exactly the bound is read.
    @Test func aReceiptAboveTheSizeBoundIsRefusedAndTheErrorSaysTheBound() throws {
        let bytes = Array(try ReceiptJSON.encode(try Self.receipt()))
        let atBound = bytes + Array(repeating: 0x20, count: ReceiptLimits.maxBytes - bytes.count)
        #expect(try ReceiptJSON.decode(atBound) == (try Self.receipt()), "whitespace up to the bound is still a receipt")
        let above = atBound + [0x20]
        let error = try #require(Self.receiptError(above))
        #expect(error.code == .tooLarge && "\(error)".contains("\(ReceiptLimits.maxBytes) bytes"), "\(error)")
        let proofError = try #require(Self.proofError(Array(try ConsentJSON.encode(try Self.proof())) + Array(repeating: 0x20, count: ReceiptLimits.maxBytes)))
        #expect(proofError.code == .tooLarge && "\(proofError)".contains("\(ReceiptLimits.maxBytes) bytes"), "\(proofError)")
        #expect(throws: ReceiptDecodingError.self) { try ReceiptJSON.decode(Data(above)) }
    }

    /// One parse tells a receipt from a proof for `careledger verify`; another format is named with the accepted ones.
    @Test func aDocumentIsAReceiptOrAProofByItsFormat() throws {
        let receipt = try Self.receipt(), proof = try Self.proof()
        #expect(try ReceiptJSON.decodeDocument(Array(try ReceiptJSON.encode(receipt))) == .receipt(receipt))
        #expect(try ReceiptJSON.decodeDocument(Array(try ConsentJSON.encode(proof))) == .consentProof(proof))
        let other = try Self.json(Self.replacing("/format", with: "careledger-receipt/9", in: try Self.receiptObject()))
        do throws(ReceiptDecodingError) {
            _ = try ReceiptJSON.decodeDocument(other)
            Issue.record("careledger-receipt/9 was accepted")
        } catch {
            #expect(error.pointer == "/format" && "\(error)".contains("careledger-receipt/1, careledger-receipt/2, careledger-consent-proof/1"), "\(error)")
        }
    }

    /// The inputs above are fuzz seeds (Fuzz/seeds/receipt-json, proof-json): each saved file is refused the same
    /// way. `CARELEDGER_WRITE_SEEDS=1` writes them.
    @Test func everyHostileInputIsSavedAsAFuzzSeed() throws {
        let write = ProcessInfo.processInfo.environment["CARELEDGER_WRITE_SEEDS"] == "1"
        for (target, cases, read) in [("receipt-json", try Self.receiptCases(), Self.receiptError), ("proof-json", try Self.proofCases(), Self.proofError)] {
            let folder = Repository.root.appendingPathComponent("Fuzz/seeds/\(target)")
            if write { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
            for c in cases {
                let file = folder.appendingPathComponent(c.name)
                if write { try Data(c.bytes).write(to: file) }
                let saved = try #require(FileManager.default.contents(atPath: file.path), "\(target)/\(c.name) is saved")
                Self.expect(read(Array(saved)), c)
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// These bytes with the first occurrence of `old` replaced by `new` (both UTF-8).
    func replacingFirst(_ old: String, with new: String) -> [UInt8] {
        let text = String(decoding: self, as: UTF8.self)
        guard let r = text.range(of: old) else { return self }
        return Array(text.replacingCharacters(in: r, with: new).utf8)
    }
}
