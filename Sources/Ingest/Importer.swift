public import FHIRCore
import Foundation
public import HL7v2
public import Mapping
public import RecordStore

/// What an import did, for the summary and the exit status.
public struct ImportSummary: Sendable {
    public var files = 0
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    /// Rejected units (a file, a Bundle, a Bundle entry, an NDJSON line), each now a dead letter.
    public var rejected = 0
    /// Stored (created or updated) and unchanged resources by type.
    public var byType: [String: (stored: Int, unchanged: Int)] = [:]
    /// Conditional references that matched no stored resource (left as written).
    public var unresolvedReferences = 0
    public var bytes = 0
    public var deadLetterIDs: [Int64] = []
    /// Warnings of HL7 v2 conversions (segments and fields no rule maps, times without a zone).
    public var warnings = 0
    /// HL7 v2 messages received before (same sender, control id and bytes), not applied again.
    public var duplicates = 0
    /// Entries of the import's folders that could not be read (`path: why`), each counted in `rejected`.
    public var unreadable: [String] = []
    /// Conditional references this run already resolved (an identifier keeps naming the same resource).
    var resolved: [String: String] = [:]
    /// Every record's outcome in input order, kept only when ``keepsOutcomes`` (an import of a body, whose caller
    /// answers per entry; a file import of millions of records keeps counts only).
    public var outcomes: [RecordOutcome] = []
    public var keepsOutcomes = false

    public init() {}

    public var imported: Int { created + updated }

    mutating func add(_ outcomes: [RecordOutcome]) {
        if keepsOutcomes { self.outcomes += outcomes }
        for o in outcomes {
            switch o {
            case .created: created += 1; byType[o.key.type, default: (0, 0)].stored += 1
            case .updated: updated += 1; byType[o.key.type, default: (0, 0)].stored += 1
            case .unchanged: unchanged += 1; byType[o.key.type, default: (0, 0)].unchanged += 1
            }
        }
    }
}

/// Progress of a running import, reported after every unit.
public struct ImportProgress: Sendable {
    public var file: String
    public var bytesDone: Int
    public var bytesTotal: Int
    public var records: Int
    public var rejected: Int
}

/// Imports EHR exports into a ``RecordStore`` (docs/store.md): single resources, Bundles, bulk NDJSON, in
/// JSON or XML. Each unit (a file's resource or Bundle, a batch of NDJSON lines) is stored in one database
/// transaction; a rejected unit becomes a dead letter with an OperationOutcome saying what and where.
public struct Importer: Sendable {
    public let store: any RecordStore
    /// The import's source system: with the type and business identifiers it makes ids for resources without.
    public var source: String
    public var limits: FHIRLimits
    /// NDJSON lines stored per transaction.
    public var linesPerUnit = 2000
    /// Converts HL7 v2 messages (`.hl7` files); without it such files are refused.
    public var hl7: HL7Converter?
    /// Converts C-CDA documents (`.xml` files whose root is a ClinicalDocument); without it they are refused.
    public var ccda: CCDAConverter?

    public init(store: any RecordStore, source: String = "careledger-import", limits: FHIRLimits = .default) {
        self.store = store
        self.source = source
        self.limits = limits
    }

    /// Imports the files, in order, as one import batch.
    public func run(_ files: [ImportFile], progress: @Sendable (ImportProgress) -> Void = { _ in }) async throws -> ImportSummary {
        var summary = ImportSummary()
        let total = files.reduce(0) { $0 + $1.size }
        let formats = Set(files.map { $0.kind.rawValue }).sorted().joined(separator: ",")
        let batch = try await store.beginBatch(source: files.count == 1 ? files[0].path : "\(files.count) files", format: formats)
        var done = 0
        for file in files {
            summary.files += 1
            if let problem = file.problem {
                try await rejectUnreadable(file, problem, batch: batch, into: &summary)
                progress(ImportProgress(file: file.path, bytesDone: done, bytesTotal: total,
                                        records: summary.created + summary.updated + summary.unchanged, rejected: summary.rejected))
                continue
            }
            switch file.kind {
            case .document:
                let bytes: [UInt8]
                do {
                    bytes = try ImportFiles.read(file, limit: limits.maxDocumentBytes)
                } catch {
                    try await rejectFile(file, error, batch: batch, into: &summary)
                    continue
                }
                summary.bytes += bytes.count
                try await importDocument(bytes, source: file.path, batch: batch, into: &summary)
            case .hl7v2:
                let bytes: [UInt8]
                do {
                    bytes = try ImportFiles.read(file, limit: HL7Limits.default.maxFileBytes)
                } catch {
                    try await rejectFile(file, error, batch: batch, into: &summary)
                    continue
                }
                summary.bytes += bytes.count
                try await importHL7(bytes, source: file.path, batch: batch, into: &summary)
            case .ndjson, .ndjsonGzip:
                let lines: LineReader
                do {
                    lines = try LineReader(path: file.path, gzip: file.kind == .ndjsonGzip, maxLine: limits.maxDocumentBytes)
                    try await importNDJSON(lines, source: file.path, batch: batch, into: &summary) { sofar in
                        progress(ImportProgress(file: file.path, bytesDone: done + min(lines.consumed, file.size), bytesTotal: total,
                                                records: sofar.created + sofar.updated + sofar.unchanged, rejected: sofar.rejected))
                    }
                } catch let error as ImportError {
                    // Lines before the failure are stored; the rest of the file is one dead letter.
                    try await rejectFile(file, error, batch: batch, into: &summary)
                    continue
                }
                summary.bytes += file.size
            }
            done += file.size
            progress(ImportProgress(file: file.path, bytesDone: done, bytesTotal: total,
                                    records: summary.created + summary.updated + summary.unchanged, rejected: summary.rejected))
        }
        try await finish(batch, summary)
        return summary
    }

    /// Records the batch's counts.
    func finish(_ batch: Int64, _ summary: ImportSummary) async throws {
        var counts = BatchCounts()
        counts.created = summary.created
        counts.updated = summary.updated
        counts.unchanged = summary.unchanged
        counts.rejected = summary.rejected
        try await store.finishBatch(batch, counts: counts)
    }

    func rejectFile(_ file: ImportFile, _ error: ImportError, batch: Int64, into summary: inout ImportSummary) async throws {
        try await reject(raw: [], source: file.path, location: "", format: file.kind.rawValue,
                         outcome: OperationOutcome(error: FHIRError(.unsupportedInput, error.message)), batch: batch, into: &summary)
    }

    /// A directory entry that cannot be read: a dead letter with no bytes and an OperationOutcome saying why.
    func rejectUnreadable(_ file: ImportFile, _ problem: ImportFile.Problem, batch: Int64, into summary: inout ImportSummary) async throws {
        let issue = OperationOutcome.Issue(severity: "fatal", code: problem.issueType, diagnostics: "cannot read \(file.path): \(problem.reason)")
        try await reject(raw: [], source: file.path, location: "", format: file.kind.rawValue, outcome: OperationOutcome(issues: [issue]),
                         batch: batch, into: &summary)
        summary.unreadable.append("\(file.path): \(problem.reason)")
    }

    /// Imports one unit again from a dead letter's raw bytes; true when it is stored now.
    public func retry(_ letter: DeadLetter) async throws -> (stored: Bool, summary: ImportSummary) {
        var summary = ImportSummary()
        let before = summary.rejected
        if letter.format == "ccda" {
            try await importCCDA(letter.raw, source: letter.source, batch: letter.batch, into: &summary)
        } else if letter.format == "hl7v2" {
            try await importHL7(letter.raw, source: letter.source, batch: letter.batch, into: &summary)
        } else if letter.format == "ndjson" || letter.format == "ndjson.gz" {
            try await importNDJSON(LineReader(bytes: letter.raw, maxLine: limits.maxDocumentBytes), source: letter.source, batch: letter.batch,
                                   firstLine: Self.lineNumber(letter.location) ?? 1, into: &summary) { _ in }
        } else {
            try await importDocument(letter.raw, source: letter.source, batch: letter.batch, into: &summary)
        }
        let stored = summary.rejected == before
        if stored { try await store.resolveDeadLetter(id: letter.id) }
        return (stored, summary)
    }

    static func lineNumber(_ location: String) -> Int? {
        guard location.hasPrefix("line ") else { return nil }
        return Int(location.dropFirst(5).prefix { $0.isNumber })
    }

    // MARK: - HL7 v2

    /// Each message of an HL7 v2 file is one unit: converted through the mappings to a transaction Bundle and
    /// stored all or nothing; a message that does not parse or convert is a dead letter with its own bytes (so a
    /// retry converts it again, with the mappings of that moment) and the OperationOutcome.
    func importHL7(_ bytes: [UInt8], source: String, batch: Int64?, into summary: inout ImportSummary) async throws {
        let file: HL7File
        do {
            file = try HL7File.parse(bytes)
        } catch {
            try await reject(raw: bytes, source: source, location: error.location?.line.map { "line \($0)" } ?? "", format: "hl7v2",
                             outcome: OperationOutcome(issues: HL7ConversionError(error).issues), batch: batch, into: &summary)
            return
        }
        for entry in file.entries {
            let location = "message \(entry.number) (line \(entry.line))"
            guard let converter = hl7 else {
                try await reject(raw: entry.bytes, source: source, location: location, format: "hl7v2",
                                 outcome: OperationOutcome(error: FHIRError(.unsupportedInput, "HL7 v2 needs the mappings (Mappings/hl7v2), which this import did not load")),
                                 batch: batch, into: &summary)
                continue
            }
            // A message stored before (same sender, control id and bytes) is not converted or applied again.
            let parsed = try? entry.result.get()
            let key = MessageKey(sender: parsed?.sendingFacility ?? "", controlId: parsed?.controlId ?? "", payloadHash: CanonicalForm.sha256(entry.bytes))
            if parsed != nil, try await store.received(key) {
                summary.duplicates += 1
                continue
            }
            let conversion: HL7Conversion
            do {
                conversion = try converter.convert(try entry.result.get())
            } catch let error as HL7ConversionError {
                try await reject(raw: entry.bytes, source: source, location: location, format: "hl7v2", outcome: error.outcome, batch: batch, into: &summary)
                continue
            } catch let error as HL7Error {
                try await reject(raw: entry.bytes, source: source, location: location, format: "hl7v2",
                                 outcome: OperationOutcome(issues: HL7ConversionError(error).issues), batch: batch, into: &summary)
                continue
            }
            summary.warnings += conversion.warnings.count
            let bundle: Resource
            do {
                bundle = try Resource(conversion.bundle)
            } catch {
                try await reject(raw: entry.bytes, source: source, location: location, format: "hl7v2", outcome: OperationOutcome(error: error), batch: batch, into: &summary)
                continue
            }
            try await importBundle(bundle, type: "transaction", raw: entry.bytes, format: "hl7v2", source: "\(source) \(location)", batch: batch,
                                   message: key, into: &summary)
        }
    }

    /// What happened to one received message (``receive(_:source:)``), for its acknowledgment.
    public struct HL7Receipt: Sendable {
        public enum Outcome: Sendable, Hashable {
            /// Converted and stored (durably: the transaction committed).
            case stored
            /// Received before (same sender, control id and bytes): nothing applied again.
            case duplicate
            /// Refused: a dead letter holds it.
            case rejected
        }
        public let outcome: Outcome
        /// The parsed message (nil when it could not be parsed at all).
        public let message: HL7Message?
        /// Why it was refused.
        public let error: HL7Error?
        public let deadLetter: Int64?
        public let resources: Int
        public let warnings: Int
    }

    /// Receives one HL7 v2 message (a live feed's frame): parse, convert, store with its message key in one
    /// transaction, or a dead letter. Returns after the outcome is durable, so an ACK may be sent.
    public func receive(_ bytes: [UInt8], source: String) async throws -> HL7Receipt {
        var summary = ImportSummary()
        let parsed: HL7Message
        do {
            parsed = try HL7Message.parse(bytes)
        } catch {
            try await reject(raw: bytes, source: source, location: error.location?.description ?? "", format: "hl7v2",
                             outcome: OperationOutcome(issues: HL7ConversionError(error).issues), batch: nil, into: &summary)
            return HL7Receipt(outcome: .rejected, message: nil, error: error, deadLetter: summary.deadLetterIDs.last, resources: 0, warnings: 0)
        }
        let key = MessageKey(sender: parsed.sendingFacility ?? "", controlId: parsed.controlId ?? "", payloadHash: CanonicalForm.sha256(bytes))
        if try await store.received(key) {
            return HL7Receipt(outcome: .duplicate, message: parsed, error: nil, deadLetter: nil, resources: 0, warnings: 0)
        }
        let location = "MSH-10 \(parsed.controlId ?? "(none)")"
        guard let converter = hl7 else {
            let error = HL7Error(.internalError, "HL7 v2 needs the mappings (Mappings/hl7v2), which this node did not load")
            try await reject(raw: bytes, source: source, location: location, format: "hl7v2",
                             outcome: OperationOutcome(issues: HL7ConversionError(error).issues), batch: nil, into: &summary)
            return HL7Receipt(outcome: .rejected, message: parsed, error: error, deadLetter: summary.deadLetterIDs.last, resources: 0, warnings: 0)
        }
        let conversion: HL7Conversion
        do {
            conversion = try converter.convert(parsed)
        } catch {
            try await reject(raw: bytes, source: source, location: location, format: "hl7v2", outcome: error.outcome, batch: nil, into: &summary)
            return HL7Receipt(outcome: .rejected, message: parsed, error: error.error, deadLetter: summary.deadLetterIDs.last, resources: 0, warnings: 0)
        }
        let bundle: Resource
        do {
            bundle = try Resource(conversion.bundle)
            try await importBundle(bundle, type: "transaction", raw: bytes, format: "hl7v2", source: "\(source) \(location)", batch: nil,
                                   message: key, into: &summary)
        } catch let error as FHIRError {
            try await reject(raw: bytes, source: source, location: location, format: "hl7v2", outcome: OperationOutcome(error: error), batch: nil, into: &summary)
        }
        if summary.rejected > 0 {
            let why = HL7Error(.internalError, "the converted message could not be stored: see dead letter \(summary.deadLetterIDs.last.map(String.init) ?? "?")")
            return HL7Receipt(outcome: .rejected, message: parsed, error: why, deadLetter: summary.deadLetterIDs.last, resources: 0, warnings: conversion.warnings.count)
        }
        if summary.duplicates > 0 {
            return HL7Receipt(outcome: .duplicate, message: parsed, error: nil, deadLetter: nil, resources: 0, warnings: 0)
        }
        return HL7Receipt(outcome: .stored, message: parsed, error: nil, deadLetter: nil, resources: summary.imported + summary.unchanged,
                          warnings: conversion.warnings.count)
    }

    /// Records input that never became a message (an oversized MLLP frame) as a dead letter with the reason.
    public func refuse(source: String, location: String, error: HL7Error, raw: [UInt8] = []) async throws -> Int64? {
        var summary = ImportSummary()
        try await reject(raw: raw, source: source, location: location, format: "hl7v2",
                         outcome: OperationOutcome(issues: HL7ConversionError(error).issues), batch: nil, into: &summary)
        return summary.deadLetterIDs.last
    }

    // MARK: - C-CDA

    /// A C-CDA document is one unit: converted through Mappings/ccda to a transaction Bundle and stored all or
    /// nothing, with its SHA-256 recorded so the same document imported again is not applied twice; or a dead
    /// letter with its bytes and the OperationOutcome.
    func importCCDA(_ bytes: [UInt8], source: String, batch: Int64?, into summary: inout ImportSummary) async throws {
        guard let converter = ccda else {
            try await reject(raw: bytes, source: source, location: "", format: "ccda",
                             outcome: OperationOutcome(error: FHIRError(.unsupportedInput, "a C-CDA document needs the mappings (Mappings/ccda), which this import did not load")),
                             batch: batch, into: &summary)
            return
        }
        let key = MessageKey(sender: "C-CDA", controlId: "", payloadHash: CanonicalForm.sha256(bytes))
        if try await store.received(key) {
            summary.duplicates += 1
            return
        }
        let conversion: CCDAConversion
        do {
            conversion = try converter.convert(bytes)
        } catch {
            try await reject(raw: bytes, source: source, location: error.line.map { "line \($0)" } ?? "", format: "ccda", outcome: error.outcome,
                             batch: batch, into: &summary)
            return
        }
        summary.warnings += conversion.warnings.count
        do {
            try await importBundle(try Resource(conversion.bundle), type: "transaction", raw: bytes, format: "ccda", source: source, batch: batch,
                                   message: key, into: &summary)
        } catch let error as FHIRError {
            try await reject(raw: bytes, source: source, location: "", format: "ccda", outcome: OperationOutcome(error: error), batch: batch, into: &summary)
        }
    }

    // MARK: - Documents and Bundles

    func importDocument(_ bytes: [UInt8], source: String, batch: Int64?, into summary: inout ImportSummary) async throws {
        if CCDADetection.isClinicalDocument(bytes) {
            try await importCCDA(bytes, source: source, batch: batch, into: &summary)
            return
        }
        let format = FHIRFormat.detect(bytes)?.rawValue ?? "unknown"
        let document: FHIRDocument
        do {
            document = try FHIRDocument.read(bytes, limits: limits)
        } catch {
            try await reject(raw: bytes, source: source, location: Self.describe(error.location), format: format,
                             outcome: OperationOutcome(error: error), batch: batch, into: &summary)
            return
        }
        let resource = document.resource
        let bundleType = resource.resourceType == "Bundle" ? resource.object["type"]?.stringValue : nil
        switch bundleType {
        case "transaction", "batch", "collection", "searchset", "transaction-response", "batch-response", "history":
            try await importBundle(resource, type: bundleType ?? "", raw: bytes, format: format, source: source, batch: batch, into: &summary)
        default:
            // A single resource, or a document/message Bundle, which is stored whole (it is one signed unit).
            let issues = Validator(limits: limits).validate(resource).filter(\.isError)
            guard issues.isEmpty else {
                try await reject(raw: bytes, source: source, location: issues[0].location.first ?? "", format: format,
                                 outcome: OperationOutcome(issues: issues), batch: batch, into: &summary)
                return
            }
            do {
                let unit = [JSONTape(try withID(resource))]
                let rewrites = try await conditionalRewrites(unit, into: &summary)
                try await commit(try unit.map { t throws(FHIRError) in try PreparedRecord(tape: t, rewrites: rewrites) }, batch: batch, into: &summary)
            } catch let error as FHIRError {
                try await reject(raw: bytes, source: source, location: Self.describe(error.location), format: format,
                                 outcome: OperationOutcome(error: error), batch: batch, into: &summary)
            }
        }
    }

    /// The entries of a Bundle. A transaction is all or nothing; in other Bundles each bad entry is a dead
    /// letter of its own and the others are stored together.
    func importBundle(_ bundle: Resource, type: String, raw: [UInt8], format: String, source: String, batch: Int64?,
                      message: MessageKey? = nil, into summary: inout ImportSummary) async throws {
        let entries = bundle.object["entry"]?.arrayValue ?? []
        let atomic = type == "transaction"
        if atomic {
            let issues = Validator(limits: limits).validate(bundle).filter(\.isError)
            if !issues.isEmpty {
                try await reject(raw: raw, source: source, location: issues[0].location.first ?? "", format: format,
                                 outcome: OperationOutcome(issues: issues), batch: batch, into: &summary)
                return
            }
        }
        // bdl-7 is a rule of the whole Bundle, whatever its type: which entry a shared fullUrl names cannot be
        // decided, so no entry is stored.
        let duplicates = BundleIntegrity.duplicateFullURLs(entries, bundleType: type)
        if !duplicates.isEmpty {
            try await reject(raw: raw, source: source, location: duplicates[0].location.joined(separator: " "), format: format,
                             outcome: OperationOutcome(issues: duplicates), batch: batch, into: &summary)
            return
        }
        var resources: [Resource] = []
        /// The entry (its index in the Bundle) each resource came from.
        var entryIndex: [Int] = []
        var fullURLs: [String: Int] = [:]
        var matchedFullURLs: [String: String] = [:]
        /// fullUrl → entry index of the entries refused by themselves (a Bundle that is not all or nothing).
        var refusedFullURLs: [String: Int] = [:]
        for (n, entryValue) in entries.enumerated() {
            let pointer = "/entry/\(n)"
            // An entry of a non-atomic Bundle that fails validation keeps the validator's issues (with their codes),
            // located inside the Bundle.
            var entryIssues: [OperationOutcome.Issue] = []
            let checked = Result { () throws(FHIRError) -> Resource in
                guard let entry = entryValue.objectValue, let value = entry["resource"] else {
                    if entryValue.objectValue?["request"]?.objectValue?["method"]?.stringValue == "DELETE" {
                        throw FHIRError(.unsupportedInput, "DELETE entries are not imported: an import only adds versions", at: SourceLocation(pointer: pointer + "/request"))
                    }
                    throw FHIRError(.cardinality, "the entry has no resource", at: SourceLocation(pointer: pointer))
                }
                var resource = try Resource(value)
                if !atomic {
                    entryIssues = Validator(limits: limits).validate(resource).filter(\.isError)
                    for i in entryIssues.indices {
                        entryIssues[i].location = entryIssues[i].location.map { pointer + "/resource" + $0 }
                    }
                }
                // A PUT names the id the resource is stored under.
                if let request = entry["request"]?.objectValue, request["method"]?.stringValue == "PUT", let url = request["url"]?.stringValue {
                    let parts = url.split(separator: "/")
                    if parts.count == 2, parts[0] == resource.resourceType, !parts[1].contains("?") { resource.id = String(parts[1]) }
                }
                return try withID(resource)
            }
            let resource: Resource
            switch checked {
            case .success where !entryIssues.isEmpty:
                if let url = entryValue.objectValue?["fullUrl"]?.stringValue { refusedFullURLs[url] = n }
                try await reject(raw: JSONWriter(style: .compact).write(entryValue), source: source, location: entryIssues[0].location.first ?? pointer,
                                 format: "json", outcome: OperationOutcome(issues: entryIssues), batch: batch, into: &summary)
                continue
            case .success(let r):
                resource = r
            case .failure(let error):
                if atomic {
                    try await reject(raw: raw, source: source, location: Self.describe(error.location), format: format,
                                     outcome: OperationOutcome(error: error), batch: batch, into: &summary)
                    return
                }
                if let url = entryValue.objectValue?["fullUrl"]?.stringValue { refusedFullURLs[url] = n }
                let entryBytes = JSONWriter(style: .compact).write(entryValue)
                try await reject(raw: entryBytes, source: source, location: Self.describe(error.location), format: "json",
                                 outcome: OperationOutcome(error: error), batch: batch, into: &summary)
                continue
            }
            let entry = entryValue.objectValue
            let fullUrl = entry?["fullUrl"]?.stringValue
            // A conditional create (`ifNoneExist: identifier=…`) that matches one stored resource creates nothing:
            // references to the entry go to the stored one.
            if let condition = entry?["request"]?.objectValue?["ifNoneExist"]?.stringValue,
               let c = References.conditional(resource.resourceType + "?" + condition) {
                let existing = try await store.resolveIdentifier(type: c.type, system: c.system, value: c.value)
                if existing.count == 1 {
                    if let fullUrl { matchedFullURLs[fullUrl] = "\(resource.resourceType)/\(existing[0])" }
                    summary.unchanged += 1
                    summary.byType[resource.resourceType, default: (0, 0)].unchanged += 1
                    continue
                }
            }
            if let fullUrl { fullURLs[fullUrl] = resources.count }
            resources.append(resource)
            entryIndex.append(n)
        }
        var map = Self.entryRewrites(resources, fullURLs: fullURLs, matched: matchedFullURLs)
        // A urn:uuid:/urn:oid: reference that no entry resolves would be stored pointing nowhere. A transaction
        // is refused whole; elsewhere that entry is, and so, in turn, is every entry that refers to a refused one.
        var fullUrlOf: [Int: String] = [:]
        for (url, i) in fullURLs { fullUrlOf[i] = url }
        let members = resources.indices.map { BundleIntegrity.Member(entry: entryIndex[$0], fullUrl: fullUrlOf[$0], resource: resources[$0]) }
        let dangling = BundleIntegrity.unresolvedURNs(members, resolved: map, refusedEntries: refusedFullURLs, cascade: !atomic)
        if atomic, !dangling.isEmpty {
            let issues = dangling.flatMap(\.issues)
            try await reject(raw: raw, source: source, location: issues.first?.location.first ?? "", format: format,
                             outcome: OperationOutcome(issues: issues), batch: batch, into: &summary)
            return
        }
        if !dangling.isEmpty {
            for d in dangling {
                try await reject(raw: JSONWriter(style: .compact).write(entries[entryIndex[d.member]]), source: source,
                                 location: d.issues.first?.location.first ?? "/entry/\(entryIndex[d.member])", format: "json",
                                 outcome: OperationOutcome(issues: d.issues), batch: batch, into: &summary)
            }
            let refused = Set(dangling.map(\.member))
            resources = resources.indices.filter { !refused.contains($0) }.map { resources[$0] }
            var kept: [String: Int] = [:]
            var position = 0
            for i in members.indices where !refused.contains(i) {
                if let url = members[i].fullUrl { kept[url] = position }
                position += 1
            }
            map = Self.entryRewrites(resources, fullURLs: kept, matched: matchedFullURLs)
        }
        do {
            let tapes = resources.map { JSONTape($0) }
            // Conditional references are never fullUrls: one map rewrites both.
            map.merge(try await conditionalRewrites(tapes, into: &summary)) { fullURL, _ in fullURL }
            let prepared = try tapes.map { t throws(FHIRError) in try PreparedRecord(tape: t, rewrites: map) }
            if let message {
                if let outcomes = try await store.commit(prepared, batch: batch, message: message) {
                    summary.add(outcomes)
                } else {
                    summary.duplicates += 1
                }
            } else {
                try await commit(prepared, batch: batch, into: &summary)
            }
        } catch let error as FHIRError {
            try await reject(raw: raw, source: source, location: Self.describe(error.location), format: format,
                             outcome: OperationOutcome(error: error), batch: batch, into: &summary)
        }
    }

    /// fullUrl (urn:uuid:…, absolute URLs) → Type/id of the stored resource, for the entries in `fullURLs`
    /// (fullUrl → index in `resources`) and the conditional creates that matched a stored resource.
    static func entryRewrites(_ resources: [Resource], fullURLs: [String: Int], matched: [String: String]) -> [String: String] {
        var map = matched
        for (url, i) in fullURLs {
            let target = "\(resources[i].resourceType)/\(resources[i].id ?? "")"
            if url != target { map[url] = target }
            // A relative reference (`Patient/old`) to an entry whose fullUrl ends in it names the same entry.
            let parts = url.split(separator: "/")
            if parts.count >= 2, parts[parts.count - 2] == resources[i].resourceType {
                let relative = "\(parts[parts.count - 2])/\(parts[parts.count - 1])"
                if relative != target { map[relative] = target }
            }
        }
        return map
    }

    // MARK: - NDJSON

    func importNDJSON(_ lines: LineReader, source: String, batch: Int64?, firstLine: Int = 1, into summary: inout ImportSummary,
                      progress: (ImportSummary) -> Void) async throws {
        // Each line is parsed to a tape and stays one: validated, prepared and written from it without a tree.
        var unit: [JSONTape] = []
        // Up to three units are being committed while the next is parsed and validated.
        var pending: [Task<[RecordOutcome], any Error>] = []
        var lineNumber = firstLine - 1
        let reader = JSONReader(limits: limits)
        let validator = Validator(limits: limits)
        var readFailure: ImportError?
        while true {
            let next: LineReader.Line?
            do {
                next = try lines.next()
            } catch {
                // What was read before stays: store it, then report the file.
                readFailure = ImportError("\(error.message), after line \(lineNumber)")
                break
            }
            guard let next else { break }
            lineNumber += 1
            let raw: [UInt8]
            switch next {
            case .line(let bytes):
                raw = bytes
            case .tooLong(let prefix, let length):
                let error = FHIRError(.tooLarge, "the line is \(length) bytes; the limit is \(limits.maxDocumentBytes) bytes")
                try await reject(raw: prefix, source: source, location: "line \(lineNumber)", format: "ndjson",
                                 outcome: OperationOutcome(error: error), batch: batch, into: &summary)
                continue
            }
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let parsed = Result { () throws(FHIRError) -> JSONTape in
                let tape = try reader.readTape(raw)
                try tape.requireResource()
                return tape
            }
            switch parsed {
            case .failure(let error):
                // The reader counts lines within the line; in the file it is line `lineNumber`.
                var place = "line \(lineNumber)"
                if let column = error.location?.column { place += ", column \(column)" }
                if let pointer = error.location?.pointer, !pointer.isEmpty { place += " " + pointer }
                try await reject(raw: raw, source: source, location: place,
                                 format: "ndjson", outcome: OperationOutcome(error: error), batch: batch, into: &summary)
                continue
            case .success(let tape):
                let issues = validator.validate(tape).filter(\.isError)
                if !issues.isEmpty {
                    try await reject(raw: raw, source: source, location: "line \(lineNumber)" + (issues[0].location.first.map { " " + $0 } ?? ""),
                                     format: "ndjson", outcome: OperationOutcome(issues: issues), batch: batch, into: &summary)
                    continue
                }
                if let id = tape.stringMember("id", of: 0), !id.isEmpty {
                    unit.append(tape)
                } else {
                    // No id: the deterministic one is computed on the tree, and the record is read from its tape.
                    unit.append(JSONTape(try withID(try Resource(tape.value()))))
                }
            }
            if unit.count >= linesPerUnit {
                // The previous batch's commit ran while these lines were parsed and validated; it must be in
                // before this batch's conditional references are resolved against the store.
                if pending.count >= 3 { summary.add(try await pending.removeFirst().value) }
                if let task = try await startCommit(&unit, batch: batch, pending: &pending, into: &summary) { pending.append(task) }
                progress(summary)
            }
        }
        if let task = try await startCommit(&unit, batch: batch, pending: &pending, into: &summary) { pending.append(task) }
        for task in pending { summary.add(try await task.value) }
        if let readFailure { throw readFailure }
    }

    /// Resolves the unit's references, prepares its records and starts storing them; the caller awaits the
    /// task (and counts its outcomes) when it needs the store to have them.
    private func startCommit(_ unit: inout [JSONTape], batch: Int64?, pending: inout [Task<[RecordOutcome], any Error>],
                             into summary: inout ImportSummary) async throws -> Task<[RecordOutcome], any Error>? {
        guard !unit.isEmpty else { return nil }
        var inFlight = pending
        pending = []
        defer { pending = inFlight }
        let rewrites = try await conditionalRewrites(unit, into: &summary) { summary in
            // A reference may name a resource of a unit still being committed: let those finish first.
            for task in inFlight { summary.add(try await task.value) }
            inFlight = []
        }
        // Preparing the records (canonical forms, hashes, index rows) runs in the unit's task, beside the parsing
        // and validation of the next unit.
        let tapes = unit
        unit.removeAll(keepingCapacity: true)
        let store = self.store
        return Task {
            var prepared: [PreparedRecord] = []
            prepared.reserveCapacity(tapes.count)
            for t in tapes { prepared.append(try PreparedRecord(tape: t, rewrites: rewrites)) }
            return try await store.commit(prepared, batch: batch)
        }
    }

    // MARK: - Shared steps

    /// The resource with its id: its own, or a deterministic one.
    func withID(_ resource: Resource) throws(FHIRError) -> Resource {
        if let id = resource.id, !id.isEmpty { return resource }
        var r = resource
        let source = r.object["meta"]?.objectValue?["source"]?.stringValue ?? self.source
        r.id = try Identity.deterministicID(for: r, source: source)
        return r
    }

    /// Resolves the unit's `Type?identifier=…` references against the unit itself, then the store: the rewrites
    /// that turn them into `Type/id`.
    func conditionalRewrites(_ unit: [JSONTape], into summary: inout ImportSummary,
                             settle: (inout ImportSummary) async throws -> Void = { _ in }) async throws -> [String: String] {
        var refs = Set<String>()
        for t in unit { References.collectConditional(t, into: &refs) }
        let conditionals = refs.compactMap { ref in References.conditional(ref).map { (ref, $0) } }
        guard !conditionals.isEmpty else { return [:] }
        var map: [String: String] = [:]
        // The unit's own identifiers of the types the references name, read once: (type, value) → (system, id).
        let wanted = Set(conditionals.map(\.1.type))
        var own: [String: [(system: String?, id: String)]] = [:]
        for t in unit {
            guard let type = t.resourceType, wanted.contains(type), let id = t.stringMember("id", of: 0) else { continue }
            for identifier in t.objects(t.member("identifier", of: 0)) {
                guard let value = t.stringMember("value", of: identifier) else { continue }
                own[type + "\u{0}" + value, default: []].append((t.stringMember("system", of: identifier), id))
            }
        }
        // From the cache and the unit itself first; what is left is looked up in the store with one query, and
        // once more after the units in flight are in, for references to resources they hold.
        var found: [String: Set<String>] = [:]
        var open: [(ref: String, query: IdentifierQuery)] = []
        for (ref, c) in conditionals.sorted(by: { $0.0 < $1.0 }) {
            if let known = summary.resolved[ref] {
                map[ref] = known
                continue
            }
            var ids = Set<String>()
            for match in own[c.type + "\u{0}" + c.value] ?? [] where c.system == nil || match.system == c.system {
                ids.insert(match.id)
            }
            if ids.isEmpty { open.append((ref, IdentifierQuery(type: c.type, system: c.system, value: c.value))) } else { found[ref] = ids }
        }
        if !open.isEmpty {
            var answers = try await store.resolveIdentifiers(open.map(\.query))
            if answers.contains(where: \.isEmpty) {
                try await settle(&summary)
                answers = try await store.resolveIdentifiers(open.map(\.query))
            }
            for (o, ids) in zip(open, answers) { found[o.ref] = Set(ids) }
        }
        for (ref, c) in conditionals where map[ref] == nil {
            if let ids = found[ref], ids.count == 1, let id = ids.first {
                map[ref] = "\(c.type)/\(id)"
                summary.resolved[ref] = map[ref]
            } else {
                summary.unresolvedReferences += 1
            }
        }
        return map
    }

    func commit(_ unit: [PreparedRecord], batch: Int64?, into summary: inout ImportSummary) async throws {
        summary.add(try await store.commit(unit, batch: batch))
    }

    func reject(raw: [UInt8], source: String, location: String, format: String, outcome: OperationOutcome, batch: Int64?,
                into summary: inout ImportSummary) async throws {
        var outcome = outcome
        // Every issue also names the file (and line), so the outcome stands on its own.
        let place = location.isEmpty ? source : "\(source) \(location)"
        for i in outcome.issues.indices {
            // The file and line replace the reader's own line:column (relative to one NDJSON line or entry).
            outcome.issues[i].location.removeAll { $0.isEmpty || ($0.hasPrefix("line ") && location.hasPrefix("line ")) }
            if !outcome.issues[i].location.contains(place) { outcome.issues[i].location.insert(place, at: 0) }
        }
        let json = String(decoding: JSONWriter(style: .compact).write(.object(outcome.resource)), as: UTF8.self)
        let id = try await store.addDeadLetter(DeadLetter(batch: batch, source: source, location: location, format: format, raw: raw,
                                                          outcome: json, createdAt: Instant.format(Date())))
        summary.rejected += 1
        summary.deadLetterIDs.append(id)
    }

    static func describe(_ location: SourceLocation?) -> String {
        guard let location else { return "" }
        var parts: [String] = []
        if let line = location.line { parts.append(location.column.map { "line \(line), column \($0)" } ?? "line \(line)") }
        if let pointer = location.pointer, !pointer.isEmpty { parts.append(pointer) }
        return parts.joined(separator: " ")
    }
}
