public import Crypto
import Foundation
import Ledger
public import Node

/// Seals the paging cursors the gateway hands out (search and history `next` links) so that a client can neither
/// read nor forge them (issue 17, Deliver 6).
///
/// The store's cursor is readable: the sort key and id of the last row it examined. A partner's page that the
/// consent filter cut short links on from that row, which may be one the partner was refused; opened, the cursor
/// would name it. Sealed with ChaChaPoly, a cursor is opaque and authenticated: one that was altered, or sealed by
/// another node's gateway, does not open and the request is refused (400).
///
/// The key is derived (HKDF-SHA256, its own info string) from the node's key, as the access-token key is, so every
/// gateway process of the node opens the cursors any of them sealed, and no key is stored anywhere else.
public struct CursorSeal: Sendable {
    /// The longest sealed cursor read: a store cursor is well under 1 KiB.
    public static let maximumSealedBytes = 4 << 10

    private let key: SymmetricKey

    /// A seal with this key. The key is never logged.
    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A seal with a random key: only the cursors this value sealed open (a gateway without a node home, tests).
    public static func withRandomKey() -> CursorSeal {
        CursorSeal(key: SymmetricKey(size: .bits256))
    }

    /// The cursor key of a node home, derived from the node's Ed25519 seed; distinct from the access-token key.
    public static func key(home: NodeHome) throws(ServiceError) -> SymmetricKey {
        let seed: [UInt8]
        do {
            seed = try home.nodeKey().rawRepresentation
        } catch {
            throw ServiceError(.configuration, "the paging cursor key needs the node key: \(error)")
        }
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: seed),
                                      info: Array("careledger paging-cursor chachapoly v1".utf8), outputByteCount: 32)
    }

    /// The store's cursor sealed, as URL-safe base64 without padding (it goes into a query string as is).
    public func seal(_ cursor: String) throws(ServiceError) -> String {
        do {
            let box = try ChaChaPoly.seal(Data(cursor.utf8), using: key)
            return Self.base64URL(box.combined)
        } catch {
            throw ServiceError(.internal, "a paging cursor could not be sealed")
        }
    }

    /// The store's cursor inside a sealed one. Throws ``ServiceError`` `.invalidRequest` (400) when it is too long,
    /// not base64, altered, or sealed under another key; the message says nothing about its content.
    public func open(_ sealed: String) throws(ServiceError) -> String {
        let refused = ServiceError(.invalidRequest, "_cursor is not a paging cursor this gateway issued; follow the Bundle's next link as given")
        // Only the one spelling this seal writes: base64 that differs in unused trailing bits is refused too.
        guard sealed.utf8.count <= Self.maximumSealedBytes, let data = Self.data(base64URL: sealed), Self.base64URL(data) == sealed else {
            throw refused
        }
        do {
            let opened = try ChaChaPoly.open(try ChaChaPoly.SealedBox(combined: data), using: key)
            guard let cursor = String(data: opened, encoding: .utf8) else { throw refused }
            return cursor
        } catch {
            throw refused
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        guard text.utf8.allSatisfy({ c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard)
    }
}
