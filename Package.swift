// swift-tools-version:6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "CareLedger",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "careledger", targets: ["careledger"]),
        .library(name: "FHIRCore", targets: ["FHIRCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        // The system libxml2 (Debian: libxml2-dev), used for FHIR XML and Canonical XML.
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .target(
            name: "FHIRCore",
            dependencies: [
                "CLibXML2",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        // The system SQLite 3 (Debian: libsqlite3-dev): the embedded record store.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The system zlib (Debian: zlib1g-dev): .ndjson.gz bulk exports.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "RecordStore",
            dependencies: [
                "FHIRCore",
                "CSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "Ingest",
            dependencies: [
                "FHIRCore", "RecordStore", "CZlib", "HL7v2", "Mapping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // The ledger core: canonical encoding, keys, transactions, blocks, RFC 6962 Merkle trees, the application
        // state machine. Pure and deterministic: no I/O, no clock.
        .target(
            name: "Ledger",
            dependencies: [
                "Contracts",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        // Allocation contracts: definitions, the mechanisms, the expression language (a CEL subset), metering.
        // Pure and deterministic: no I/O, no clock, no floating point.
        .target(
            name: "Contracts",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        // HL7 v2: ER7 parsing and encoding, paths and datatypes, ACKs, MLLP framing. Pure: no I/O, no clock.
        .target(
            name: "HL7v2",
            swiftSettings: upcoming
        ),
        // The mapping engine: Mappings/*.yaml (read at run time) interpreted into FHIR R4 resources.
        .target(
            name: "Mapping",
            dependencies: [
                "FHIRCore", "HL7v2", "CLibXML2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // Tendermint consensus as a pure state machine, proposer selection, and the seeded simulation that tests it.
        // No I/O, no clock.
        .target(
            name: "Consensus",
            dependencies: ["Ledger", "Contracts"],
            swiftSettings: upcoming
        ),
        // The node's shell around the ledger: its home directory (keys, genesis), the block store, block production,
        // the anchoring service, the loopback RPC, receipts as JSON.
        .target(
            name: "Node",
            dependencies: [
                "Ledger", "Contracts", "FHIRCore", "RecordStore", "Consensus", "P2P",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // Authenticated, encrypted TCP sessions between validators (docs/p2p.md).
        .target(
            name: "P2P",
            dependencies: [
                "Ledger",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // The application layer: each use case once (import a body, reads and search, consent submit/query/prove,
        // receipts and verification, AuditEvents, client registration, tokens), called by the CLI and the gateway;
        // typed errors mapped to exit codes, HTTP statuses and OperationOutcomes in one place.
        .target(
            name: "Services",
            dependencies: [
                "FHIRCore", "RecordStore", "Ingest", "Ledger", "Contracts", "Node", "Mapping",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                // Contract definitions written as YAML (Services/Contracts).
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // The only HTTP stack (Hummingbird 2): the FHIR gateway (REST, SMART Backend Services, consent enforcement,
        // audit) and the node's loopback RPC, started and stopped with swift-service-lifecycle.
        .target(
            name: "Gateway",
            dependencies: [
                "Services", "FHIRCore", "RecordStore", "Ledger", "Node",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "careledger",
            dependencies: [
                "Services",
                "Gateway",
                "FHIRCore",
                "RecordStore",
                "Ingest",
                "Ledger",
                "Contracts",
                "Node",
                "P2P",
                "Consensus",
                "HL7v2",
                "Mapping",
                "CLibXML2",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FHIRCoreTests",
            dependencies: ["FHIRCore", "TestSupport"],
            swiftSettings: upcoming
        ),
        // Runs the built `careledger` binary as a user would (exit codes, stdout, OperationOutcomes).
        .testTarget(
            name: "CLITests",
            dependencies: ["careledger", "TestSupport", "Ledger", "Node"],
            swiftSettings: upcoming
        ),
        // A throwaway PostgreSQL 15 server for tests (Tests/TestSupport/PostgresServer.swift).
        .target(
            name: "TestSupport",
            dependencies: [
                "RecordStore", "Services",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // SMART client keys for the auth tests (TestClientKeys.swift).
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "FHIRCore", "TestSupport", "HL7v2", "Mapping", "RecordStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // One conformance suite for both record stores: SQLite files and a real PostgreSQL 15 server.
        .testTarget(
            name: "StoreTests",
            dependencies: ["RecordStore", "Ingest", "FHIRCore", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", "Contracts", "Node", "FHIRCore", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["golden-ledger-encoding.json"],
            swiftSettings: upcoming
        ),
        // The node's runtime: block store, chain, anchoring service, RPC, receipts from a store.
        .testTarget(
            name: "NodeTests",
            dependencies: ["Node", "Ledger", "RecordStore", "Ingest", "FHIRCore", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: upcoming
        ),
        // P2P sessions over real loopback sockets; the faulty TCP proxy (bit flips, stalls) is written with NIO.
        .testTarget(
            name: "P2PTests",
            dependencies: [
                "P2P", "Ledger", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "HL7v2Tests",
            dependencies: ["HL7v2", "Mapping", "FHIRCore", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ContractsTests",
            dependencies: ["Contracts", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ConsensusTests",
            dependencies: ["Consensus", "Ledger", "TestSupport"],
            swiftSettings: upcoming
        ),
        // The fuzz targets' properties (Fuzz/README.md): run over the seeds by FuzzTests, and by libFuzzer through
        // careledger-fuzz when built with CARELEDGER_FUZZ=1 (below).
        .target(
            name: "FuzzTargets",
            dependencies: ["FHIRCore", "HL7v2", "Mapping", "Ledger", "Node"],
            path: "Fuzz/Targets",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FuzzTests",
            dependencies: ["FuzzTargets", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ServicesTests",
            dependencies: ["Services", "FHIRCore", "RecordStore", "Ingest", "Ledger", "Node", "TestSupport",
                           .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
                           // RSA key generation for the client assertion tests (RS384).
                           .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: upcoming
        ),
        // The gateway over real loopback HTTP (Hummingbird's live test client and the Python FHIR clients).
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "Services", "FHIRCore", "RecordStore", "Ingest", "Ledger", "Node", "TestSupport",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "JWTKit", package: "jwt-kit"),
                           .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "DatabaseTests",
            dependencies: [
                "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzzing (scripts/fuzz.sh): with CARELEDGER_FUZZ=1 the readers are compiled with libFuzzer's coverage and
// AddressSanitizer, and one more product, careledger-fuzz, runs the target CARELEDGER_FUZZ_TARGET names. Its own
// scratch folder (.build-fuzz) keeps these flags out of the normal build.
if Context.environment["CARELEDGER_FUZZ"] == "1" {
    let sanitizers = ["-sanitize=fuzzer,address"]
    let instrumented: Set<String> = ["FHIRCore", "HL7v2", "Mapping", "Ledger", "Consensus", "Node", "FuzzTargets"]
    for target in package.targets where instrumented.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(sanitizers)]
    }
    package.targets += [
        .target(name: "CFuzz", path: "Fuzz/CFuzz"),
        .executableTarget(
            name: "careledger-fuzz",
            dependencies: ["CFuzz", "FuzzTargets"],
            path: "Fuzz/Driver",
            swiftSettings: upcoming + [.unsafeFlags(sanitizers)],
            // lld: the gold linker crashes on the sanitizer runtimes.
            linkerSettings: [.unsafeFlags(sanitizers + ["-use-ld=lld"])]
        ),
    ]
    package.products += [.executable(name: "careledger-fuzz", targets: ["careledger-fuzz"])]
}
