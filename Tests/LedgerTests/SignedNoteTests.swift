import Foundation
import Ledger
import Testing

@Suite("C2SP signed notes and checkpoints")
struct SignedNoteTests {
    // The example key pair and note of the Go reference implementation (golang.org/x/mod/sumdb/note): the key
    // strings are "name+keyID+base64(0x01 ‖ key)".
    static let seed = Array((Base64.decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz") ?? []).dropFirst())
    static let publicKey = Array((Base64.decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") ?? []).dropFirst())
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let signed = text + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test func reproducesTheReferenceNoteByteForByte() throws {
        let key = try SigningKey(seed: Self.seed)
        #expect(key.publicKey.bytes == Self.publicKey)
        #expect(SignedNote.keyID(name: "PeterNeumann", publicKey: key.publicKey) == 0xc74f_20a3)
        #expect(try SignedNote.sign(text: Self.text, keyName: "PeterNeumann", key: key) == Self.signed)
        #expect(try SignedNote.open(Self.signed, keyName: "PeterNeumann", publicKey: key.publicKey) == Self.text)
    }

    @Test func tamperedNotesAreRefused() throws {
        let key = try SigningKey(seed: Self.seed)
        let other = try SigningKey(seed: [UInt8](repeating: 5, count: 32))
        #expect(throws: SignedNote.Error.self) { try SignedNote.open(Self.signed.replacingOccurrences(of: "problem,", with: "problem;"), keyName: "PeterNeumann", publicKey: key.publicKey) }
        #expect(throws: SignedNote.Error.self) { try SignedNote.open(Self.signed, keyName: "PeterNeumann", publicKey: other.publicKey) }
        #expect(throws: SignedNote.Error.self) { try SignedNote.open(Self.signed, keyName: "Someone", publicKey: key.publicKey) }
        #expect(throws: SignedNote.Error.self) { try SignedNote.open(Self.text, keyName: "PeterNeumann", publicKey: key.publicKey) }
        // Another key's signature line is ignored; the known key's still verifies.
        let cosigned = try SignedNote.sign(text: Self.text, keyName: "other.example/key", key: other)
        let otherLine = try #require(cosigned.split(separator: "\n").last)
        let both = Self.signed + otherLine + "\n"
        #expect(try SignedNote.open(both, keyName: "PeterNeumann", publicKey: key.publicKey) == Self.text)
        #expect(try SignedNote.open(both, keyName: "other.example/key", publicKey: other.publicKey) == Self.text)
    }

    @Test func checkpointsRoundTrip() throws {
        let root = Merkle.root(leaves: [[1], [2]])
        let c = Checkpoint(origin: "careledger.example/chain-1/anchor", size: 2, root: root)
        #expect(c.text == "careledger.example/chain-1/anchor\n2\n\(Base64.encode(root))\n")
        #expect(try Checkpoint(text: c.text) == c)
        #expect(throws: SignedNote.Error.self) { try Checkpoint(text: "origin\n02\n\(Base64.encode(root))\n") }
        #expect(throws: SignedNote.Error.self) { try Checkpoint(text: "origin\n2\nAAAA\n") }
    }

    @Test func base64MatchesFoundation() {
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let ours = Base64.encode(bytes)
            #expect(ours == Data(bytes).base64EncodedString())
            #expect(Base64.decode(ours) == bytes)
        }
        #expect(Base64.decode("QR==") == nil, "unused bits must be zero")
        #expect(Base64.decode("QQ=") == nil)
        #expect(Base64.decode("Q===") == nil)
        #expect(Base64.decode("QQ==") == [0x41])
    }
}
