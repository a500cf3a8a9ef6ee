import Foundation

/// The JSON files of a node home (keys, `genesis.json`, `config/node.json`) as `Codable` types: written with sorted
/// members (what `JSONSerialization` wrote before, byte for byte) and read strictly, each member of one type — a
/// port or a power is an integer, not any number a reader happens to accept.
enum NodeFiles {
    /// `config/node_key.json` (`{"seed", "type": "ed25519"}`) and `config/consortium_key.json`
    /// (`{"key", "type": "hmac-sha256"}`); base64 values.
    struct Secret: Codable {
        var type: String
        var seed: String?
        var key: String?
    }

    /// `genesis.json`.
    struct GenesisFile: Codable {
        struct Validator: Codable {
            var name: String
            var publicKey: String
            var power: UInt64
            /// Written only when there are some, so a genesis without them keeps its bytes.
            var identifiers: [String]?
        }

        var chainId: String
        var genesisTime: String
        var validators: [Validator]
    }

    /// `config/node.json`.
    struct NodeConfigFile: Codable {
        struct Peer: Codable {
            var name: String
            var publicKey: String
            var host: String
            var port: Int
        }

        var moniker: String
        var rpcPort: Int
        /// 127.0.0.1 when absent.
        var p2pHost: String?
        var p2pPort: Int
        var peers: [Peer]
        var blockIntervalMillis: Int?
        var emptyBlockMillis: Int?
    }

    /// `value` as JSON with sorted members, indented when `pretty`.
    static func encode(_ value: some Encodable, pretty: Bool) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        return try encoder.encode(value)
    }

    /// The file at `url` as `T`; a file that cannot be read or is not of that shape is a ``NodeError`` naming the
    /// file and the member.
    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NodeError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw NodeError("\(url.path): \(describe(error))")
        }
    }

    /// Where and what: `validators[1].power: expected UInt64`, `moniker is missing`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the document" : text
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
