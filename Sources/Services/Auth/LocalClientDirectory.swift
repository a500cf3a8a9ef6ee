public import Foundation

/// The hospital's own systems (its EHR writing records) as SMART clients: `config/clients.json` in the node home,
///
///     { "clients": [ { "clientId": "ehr", "jwks": { "keys": [ … ] }, "scopes": ["system/*.cruds"] },
///                    { "clientId": "lab", "jwksFile": "lab.jwks.json", "scopes": ["system/Observation.cu"] } ] }
///
/// (`jwksFile` relative to the config folder). Principals of these clients are `.local`: no consent decision applies.
/// The file is read on each lookup (``CachedClientDirectory`` keeps lookups brief), so an edit takes effect within
/// the cache's time to live; a missing file means no local clients.
public struct LocalClientDirectory: ClientDirectory {
    public let file: URL

    public init(file: URL) {
        self.file = file
    }

    /// The client list in the node home: `config/clients.json`.
    public init(home: String) {
        self.init(file: URL(fileURLWithPath: home).appendingPathComponent("config/clients.json"))
    }

    struct Entry: Decodable {
        var clientId: String
        var jwks: ClientKeySet?
        var jwksFile: String?
        var scopes: [String]
    }

    struct List: Decodable {
        var clients: [Entry]
    }

    /// The largest clients.json or JWKS file read.
    static let maximumFileBytes = 1 << 20

    public func client(id: String) async throws -> RegisteredClient? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let list: List = try Self.read(file)
        guard let entry = list.clients.first(where: { $0.clientId == id }) else { return nil }
        let keys: ClientKeySet
        if let jwks = entry.jwks {
            keys = jwks
        } else if let path = entry.jwksFile {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
                : file.deletingLastPathComponent().appendingPathComponent(path)
            keys = try Self.read(url)
        } else {
            throw ServiceError(.configuration, "\(file.path): client '\(id)' has neither jwks nor jwksFile")
        }
        return RegisteredClient(clientId: id, kind: .local, keys: keys, scopes: ScopeSet(parsing: entry.scopes))
    }

    static func read<T: Decodable>(_ url: URL) throws -> T {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            if let size = attributes[.size] as? Int, size > maximumFileBytes {
                throw ServiceError(.configuration, "\(url.path) is over \(maximumFileBytes) bytes")
            }
            data = try Data(contentsOf: url)
        } catch let error as ServiceError {
            throw error
        } catch {
            throw ServiceError(.configuration, "cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw ServiceError(.configuration, "\(url.path) is not a valid client list or JWKS: \(error)")
        }
    }
}
