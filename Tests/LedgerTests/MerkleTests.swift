import Foundation
import Ledger
import TestSupport
import Testing

@Suite("RFC 6962 Merkle trees")
struct MerkleTests {
    static let vectors = Repository.shared.appendingPathComponent("vectors/rfc6962-merkle")

    /// The 8-leaf reference tree of the vectors (SOURCES.md) and the roots of its first n leaves.
    static let referenceLeaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                             "606162636465666768696a6b6c6d6e6f"].map(hex)
    static let referenceRoots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ].map(hex)

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    static func files(_ kind: String) throws -> [URL] {
        let root = vectors.appendingPathComponent(kind)
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        return e.compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }

    static func object(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    static func bytes(_ v: Any?) -> [UInt8] {
        (v as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
    }

    static func proof(_ v: Any?) -> [[UInt8]] {
        (v as? [String] ?? []).map { Data(base64Encoded: $0).map(Array.init) ?? [] }
    }

    @Test func referenceTreeRoots() {
        for n in 0...8 {
            #expect(Merkle.root(leaves: Array(Self.referenceLeaves.prefix(n))) == Self.referenceRoots[n], "root of \(n) leaves")
        }
    }

    @Test func everyInclusionVector() throws {
        var passed = 0
        var generated = 0
        let files = try Self.files("inclusion")
        let leafHashes = Self.referenceLeaves.map(Merkle.leafHash)
        for url in files {
            let v = try Self.object(url)
            let index = (v["leafIdx"] as? NSNumber)?.uint64Value ?? 0
            let size = (v["treeSize"] as? NSNumber)?.uint64Value ?? 0
            let wantErr = v["wantErr"] as? Bool ?? false
            let proof = Self.proof(v["proof"])
            var failure: Merkle.Error?
            do throws(Merkle.Error) {
                try Merkle.verifyInclusion(leafHash: Self.bytes(v["leafHash"]), index: index, treeSize: size, proof: proof, root: Self.bytes(v["root"]))
            } catch {
                failure = error
            }
            #expect((failure != nil) == wantErr, "\(url.lastPathComponent) (\(v["desc"] ?? "")): \(failure?.reason ?? "accepted")")
            if (failure != nil) == wantErr { passed += 1 }
            // Where the vector is about the reference tree, our own proof is the vector's.
            if !wantErr, size <= 8, Int(index) < leafHashes.count, Self.bytes(v["leafHash"]) == leafHashes[Int(index)],
               Self.bytes(v["root"]) == Self.referenceRoots[Int(size)] {
                #expect(try Merkle.inclusionProof(index: Int(index), leafHashes: Array(leafHashes.prefix(Int(size)))) == proof, "\(url.path)")
                generated += 1
            }
        }
        print("merkle: \(passed)/\(files.count) inclusion vectors pass; our proofs equal theirs on the \(generated) about the reference tree")
        #expect(files.count > 50 && passed == files.count && generated > 0)
    }

    @Test func everyConsistencyVector() throws {
        var passed = 0
        var generated = 0
        let files = try Self.files("consistency")
        let leafHashes = Self.referenceLeaves.map(Merkle.leafHash)
        for url in files {
            let v = try Self.object(url)
            let size1 = (v["size1"] as? NSNumber)?.uint64Value ?? 0
            let size2 = (v["size2"] as? NSNumber)?.uint64Value ?? 0
            let wantErr = v["wantErr"] as? Bool ?? false
            let proof = Self.proof(v["proof"])
            var failure: Merkle.Error?
            do throws(Merkle.Error) {
                try Merkle.verifyConsistency(oldSize: size1, newSize: size2, oldRoot: Self.bytes(v["root1"]), newRoot: Self.bytes(v["root2"]), proof: proof)
            } catch {
                failure = error
            }
            #expect((failure != nil) == wantErr, "\(url.lastPathComponent) (\(v["desc"] ?? "")): \(failure?.reason ?? "accepted")")
            if (failure != nil) == wantErr { passed += 1 }
            if !wantErr, size1 >= 1, size2 <= 8, Self.bytes(v["root2"]) == Self.referenceRoots[Int(size2)],
               Self.bytes(v["root1"]) == Self.referenceRoots[Int(size1)] {
                #expect(try Merkle.consistencyProof(oldSize: Int(size1), leafHashes: Array(leafHashes.prefix(Int(size2)))) == proof, "\(url.path)")
                generated += 1
            }
        }
        print("merkle: \(passed)/\(files.count) consistency vectors pass; our proofs equal theirs on the \(generated) about the reference tree")
        #expect(files.count > 50 && passed == files.count && generated > 0)
    }

    /// Proofs we make verify, for every leaf and every earlier size of trees up to 70 leaves; a proof for one leaf
    /// does not verify another.
    @Test func generatedProofsVerify() throws {
        let leaves = (0..<70).map { Merkle.leafHash([UInt8(truncatingIfNeeded: $0), 0xC1]) }
        for n in 1...leaves.count {
            let tree = Array(leaves.prefix(n))
            let root = Merkle.root(leafHashes: tree)
            for m in 0..<n {
                let proof = try Merkle.inclusionProof(index: m, leafHashes: tree)
                try Merkle.verifyInclusion(leafHash: tree[m], index: UInt64(m), treeSize: UInt64(n), proof: proof, root: root)
                if n > 1 {
                    #expect(throws: Merkle.Error.self) {
                        try Merkle.verifyInclusion(leafHash: tree[(m + 1) % n], index: UInt64(m), treeSize: UInt64(n), proof: proof, root: root)
                    }
                }
            }
            for m in 1...n {
                let proof = try Merkle.consistencyProof(oldSize: m, leafHashes: tree)
                try Merkle.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n), oldRoot: Merkle.root(leafHashes: Array(tree.prefix(m))), newRoot: root, proof: proof)
            }
        }
    }
}
