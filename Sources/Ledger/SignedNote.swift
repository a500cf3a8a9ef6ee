import Crypto

/// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the tlog checkpoints (c2sp.org/tlog-checkpoint)
/// that a receipt carries for its batch root, so that transparency-log tooling can check it too.
///
/// A note is its text (ending in a newline), a blank line, then one line per signature:
/// `— <key name> base64(key ID ‖ signature)`, the key ID being the first four bytes (big-endian) of
/// `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)` and the signature the Ed25519 signature of the text.
public enum SignedNote {
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public let reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    static let emDash = "\u{2014}"
    /// At most this many signature lines are read.
    public static let maxSignatures = 16

    public static func keyID(name: String, publicKey: PublicKey) -> UInt32 {
        var h = SHA256()
        h.update(data: Array(name.utf8) + [0x0A, 0x01])
        h.update(data: publicKey.bytes)
        let d = Array(h.finalize())
        return UInt32(d[0]) << 24 | UInt32(d[1]) << 16 | UInt32(d[2]) << 8 | UInt32(d[3])
    }

    /// A key name is non-empty, has no spaces and no `+`.
    static func checkName(_ name: String) throws(SignedNote.Error) {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "+" }) else {
            throw Error("a key name is non-empty, without spaces or '+': '\(name)'")
        }
    }

    /// The note `text` signed by `key` under `keyName`.
    public static func sign(text: String, keyName: String, key: SigningKey) throws -> String {
        try checkName(keyName)
        guard text.hasSuffix("\n") else { throw Error("a note's text ends with a newline") }
        let signature = try key.sign(Array(text.utf8))
        let id = keyID(name: keyName, publicKey: key.publicKey)
        let blob = [UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)] + signature
        return text + "\n" + emDash + " " + keyName + " " + Base64.encode(blob) + "\n"
    }

    /// The text of `note` once a signature by `publicKey` under `keyName` verifies. Signatures by other keys are
    /// ignored; a failing signature by this key, or none at all, is an error.
    public static func open(_ note: String, keyName: String, publicKey: PublicKey) throws(SignedNote.Error) -> String {
        var cache = SignatureCache()
        return try open(note, keyName: keyName, publicKey: publicKey, cache: &cache)
    }

    /// The same, skipping signatures `cache` has already verified.
    public static func open(_ note: String, keyName: String, publicKey: PublicKey, cache: inout SignatureCache) throws(SignedNote.Error) -> String {
        guard note.unicodeScalars.allSatisfy({ $0 == "\n" || $0.value >= 0x20 }) else { throw Error("a note has no control characters but newlines") }
        // The text ends at the last blank line; the signature lines follow it.
        let bytes = Array(note.utf8)
        var split = bytes.count - 2
        while split >= 0 && !(bytes[split] == 0x0A && bytes[split + 1] == 0x0A) { split -= 1 }
        guard split >= 0 else { throw Error("no blank line before the signatures") }
        let text = String(decoding: bytes[...split], as: UTF8.self)
        let lines = String(decoding: bytes[(split + 2)...], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "", lines.count >= 2 else { throw Error("the signature lines end with a newline") }
        guard lines.count - 1 <= maxSignatures else { throw Error("more than \(maxSignatures) signatures") }
        let id = keyID(name: keyName, publicKey: publicKey)
        var verified = false
        for line in lines.dropLast() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == emDash, let blob = Base64.decode(String(parts[2])), blob.count >= 4 else {
                throw Error("a signature line is '— name base64': '\(line)'")
            }
            let lineID = UInt32(blob[0]) << 24 | UInt32(blob[1]) << 16 | UInt32(blob[2]) << 8 | UInt32(blob[3])
            guard parts[1] == keyName, lineID == id else { continue }
            guard cache.verify(publicKey, Array(blob.dropFirst(4)), over: Array(text.utf8)) else {
                throw Error("the signature of \(keyName) does not verify")
            }
            verified = true
        }
        guard verified else { throw Error("no signature by \(keyName) (key ID \(String(id, radix: 16)))") }
        return text
    }
}

/// A tlog checkpoint: the origin line, the tree size in decimal and the root hash in base64, each ending in a
/// newline.
public struct Checkpoint: Sendable, Hashable {
    public var origin: String
    public var size: UInt64
    public var root: [UInt8]
    /// Extension lines after the root (non-empty, no newline).
    public var extensions: [String]

    public init(origin: String, size: UInt64, root: [UInt8], extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    public var text: String { "\(origin)\n\(size)\n\(Base64.encode(root))\n" + extensions.map { $0 + "\n" }.joined() }

    /// Parses a checkpoint's text (extension lines after the third are allowed and ignored).
    public init(text: String) throws(SignedNote.Error) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty,
              let size = UInt64(lines[1]), String(size) == lines[1],
              let root = Base64.decode(String(lines[2])), root.count == 32 else {
            throw SignedNote.Error("a checkpoint is an origin, a decimal size and a base64 32-byte root, one per line")
        }
        let extensions = lines[3..<(lines.count - 1)].map(String.init)
        guard extensions.allSatisfy({ !$0.isEmpty }) else { throw SignedNote.Error("a checkpoint's extension lines are not empty") }
        self.init(origin: String(lines[0]), size: size, root: root, extensions: extensions)
    }
}

/// Standard base64 (RFC 4648 §4), with padding; decoding is strict.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = bytes[i], b1 = n > 1 ? bytes[i + 1] : 0, b2 = n > 2 ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(n > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil unless `s` is canonical padded base64 (unused bits zero).
    public static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 4 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 65...90: c - 65
            case 97...122: c - 71
            case 48...57: c + 4
            case 43: 62
            case 47: 63
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 4 * 3)
        var i = 0
        while i < u.count {
            let last = i + 4 == u.count
            let pad = last ? (u[i + 3] == 61 ? (u[i + 2] == 61 ? 2 : 1) : 0) : 0
            guard let a = value(u[i]), let b = value(u[i + 1]) else { return nil }
            let c = pad >= 2 ? UInt8(0) : value(u[i + 2])
            let d = pad >= 1 ? UInt8(0) : value(u[i + 3])
            guard let c, let d else { return nil }
            out.append(a << 2 | b >> 4)
            if pad < 2 { out.append((b & 0x0F) << 4 | c >> 2) } else if b & 0x0F != 0 { return nil }
            if pad < 1 { out.append((c & 0x03) << 6 | d) } else if pad == 1 && c & 0x03 != 0 { return nil }
            i += 4
        }
        return out
    }
}
