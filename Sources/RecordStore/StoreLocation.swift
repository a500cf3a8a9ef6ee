import Foundation

/// Where the record store lives, read from a `--store` value or `$CARELEDGER_STORE`.
///
/// Only three forms name a store: `postgres://…` (or `postgresql://…`), `sqlite:PATH`, and a plain file path with
/// no URL scheme. Anything else with a scheme (`mysql://x`, `file:x`, `postgres:/db`) is refused rather than taken
/// as a file name, so PHI is never written to an SQLite file nobody meant to create.
public enum StoreLocation: Sendable, Equatable {
    /// A PostgreSQL server, as a libpq-style URL.
    case postgres(url: String)
    /// An SQLite file (created with its directory when missing).
    case sqlite(path: String)

    /// The default when no `--store` is given: an SQLite file in `.careledger/` under the working directory.
    public static let defaultURL = "sqlite:.careledger/store.sqlite"

    /// The accepted forms, for help texts and errors.
    public static let acceptedForms = "postgres://user@host:port/database (or postgresql://…), sqlite:PATH, or a file path without a URL scheme"

    /// Reads a `--store` value; nothing is opened or created.
    public init(parsing url: String) throws(StoreLocationError) {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
            return
        }
        var path = url
        if url.hasPrefix("sqlite:") {
            path = String(url.dropFirst("sqlite:".count))
            // `sqlite:///abs/path` and `sqlite://rel/path` as some tools write them.
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        } else if let scheme = Self.scheme(of: url) {
            throw StoreLocationError(.unknownScheme, scheme: scheme)
        }
        guard !path.isEmpty else { throw StoreLocationError(.noPath, scheme: url.isEmpty ? nil : "sqlite") }
        self = .sqlite(path: path)
    }

    /// An RFC 3986 §3.1 scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`) at the start of `value`, if any.
    static func scheme(of value: String) -> String? {
        guard let colon = value.firstIndex(of: ":") else { return nil }
        let name = value[..<colon]
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return nil }
        let rest = name.unicodeScalars.dropFirst()
        guard rest.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) })
        else { return nil }
        return String(name)
    }

    /// Opens the store; migrations are applied before it returns.
    public func open() async throws -> any RecordStore {
        switch self {
        case .postgres(let url):
            return try await PostgresStore.open(url: url)
        case .sqlite(let path):
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return try SQLiteStore(path: path)
        }
    }

    /// Parses and opens a `--store` value (see ``init(parsing:)``); an unknown form throws ``StoreLocationError``
    /// before anything is created.
    public static func open(_ url: String) async throws -> any RecordStore {
        try await StoreLocation(parsing: url).open()
    }
}

/// A `--store` value that names no record store. It carries the offending scheme, never the whole value (which
/// may hold a password).
public struct StoreLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable { case unknownScheme, noPath }
        let base: Base
        init(_ base: Base) { self.base = base }
        /// A URL scheme other than postgres, postgresql and sqlite.
        public static let unknownScheme = Code(.unknownScheme)
        /// An empty value, or `sqlite:` with no path.
        public static let noPath = Code(.noPath)
        public var description: String { base.rawValue }
    }

    /// What is wrong.
    public let code: Code
    /// The URL scheme as written (`mysql`), when there is one.
    public let scheme: String?

    public init(_ code: Code, scheme: String?) {
        self.code = code
        self.scheme = scheme
    }

    public var description: String {
        switch code.base {
        case .unknownScheme where ["postgres", "postgresql"].contains(scheme?.lowercased() ?? ""):
            "'\(scheme ?? ""):' names PostgreSQL only as \(scheme?.lowercased() ?? "postgres")://user@host:port/database; a store is \(StoreLocation.acceptedForms)"
        case .unknownScheme:
            "'\(scheme ?? "")' is not a record store scheme; a store is \(StoreLocation.acceptedForms)"
        case .noPath:
            "\(scheme == nil ? "an empty value" : "'sqlite:' without a path") names no store; a store is \(StoreLocation.acceptedForms)"
        }
    }
}
