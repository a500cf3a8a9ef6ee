import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file to import and how to read it.
public struct ImportFile: Sendable, Hashable {
    public enum Kind: String, Sendable {
        /// One FHIR JSON or XML document (a resource or a Bundle); the format is detected from the content.
        case document
        /// Newline-delimited JSON, one resource per line (FHIR Bulk Data).
        case ndjson
        /// Gzip-compressed NDJSON.
        case ndjsonGzip = "ndjson.gz"
        /// HL7 v2 messages (ER7): one, many, or batches; each message is converted through Mappings/hl7v2.
        case hl7v2
    }

    /// Why an entry found in a directory cannot be imported (a dangling symbolic link, a FIFO, a folder that
    /// cannot be opened): the import reports it and counts it as rejected instead of skipping it.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, for a person (`a dangling symbolic link to missing.json`).
        public var reason: String
        /// The FHIR IssueType (http://hl7.org/fhir/issue-type) of the OperationOutcome that records it.
        public var issueType: String

        public var description: String { reason }
    }

    public var path: String
    public var kind: Kind
    public var size: Int
    /// Set when the entry cannot be read: it is recorded as rejected, never opened.
    public var problem: Problem?

    init(path: String, kind: Kind, size: Int, problem: Problem? = nil) {
        self.path = path
        self.kind = kind
        self.size = size
        self.problem = problem
    }
}

/// Finds the files an import covers and reads them.
public enum ImportFiles {
    /// Expands files and directories (recursively, hidden entries skipped) into the files to import, in a
    /// stable order: within a directory, bulk NDJSON files of resource types that others refer to
    /// (Organization, Location, Practitioner, …, Patient) come first, so conditional references resolve; then
    /// by name; Synthea's `hospitalInformation*` and `practitionerInformation*` Bundles come before everything. A
    /// named file is imported whatever its extension; in directories only known extensions are.
    ///
    /// Nothing unreadable is skipped silently. A named path that is missing or cannot be read (a dangling or
    /// looping symbolic link, a socket, a folder that cannot be opened) throws, so nothing is imported. Inside a
    /// directory, such an entry comes back with its ``ImportFile/problem`` set, to be reported and counted as
    /// rejected: a dangling or looping link or a folder that cannot be opened whatever its name, and a file with an
    /// importable extension that cannot be opened or is not a regular file (a FIFO would block the import).
    /// Symbolic links are followed; a folder reached twice is walked once.
    public static func expand(_ paths: [String]) throws(ImportError) -> [ImportFile] {
        var out: [ImportFile] = []
        for path in paths {
            switch inspect(path, named: true) {
            case .missing:
                throw ImportError("no such file or directory: \(path)")
            case .unreadable(let problem, _):
                throw ImportError("cannot read \(path): \(problem.reason)")
            case .file(let size):
                out.append(ImportFile(path: path, kind: kind(of: path) ?? .document, size: size))
            case .directory(let id):
                var found: [ImportFile] = []
                var visited: Set<DirectoryID> = [id]
                let root = URL(fileURLWithPath: path).path
                let names: [String]
                do {
                    names = try FileManager.default.contentsOfDirectory(atPath: root)
                } catch {
                    throw ImportError("cannot read the directory \(path)")
                }
                walk(root, names: names, visited: &visited, into: &found)
                found.sort { (rank($0.path), $0.path) < (rank($1.path), $1.path) }
                out += found
            }
        }
        return out
    }

    /// A directory's identity (device and inode), so a folder reached again through a symbolic link is not
    /// walked twice (or forever).
    struct DirectoryID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    enum Entry {
        case missing
        case file(size: Int)
        case directory(DirectoryID)
        /// `opaque`: a link that leads nowhere or a folder that cannot be opened, which may hide files of any name.
        case unreadable(ImportFile.Problem, opaque: Bool = false)
    }

    /// What is at `path`, following symbolic links. A named path may be a FIFO or a character device (process
    /// substitution, `/dev/stdin`); in a directory those are not files.
    static func inspect(_ path: String, named: Bool) -> Entry {
        var link = stat()
        guard lstat(path, &link) == 0 else {
            let e = errno
            return e == ENOENT ? .missing : .unreadable(ImportFile.Problem(reason: describe(e), issueType: issueType(e)))
        }
        var target = stat()
        guard stat(path, &target) == 0 else {
            let e = errno
            guard link.st_mode & S_IFMT == S_IFLNK else { return .unreadable(ImportFile.Problem(reason: describe(e), issueType: issueType(e))) }
            let destination = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            switch e {
            case ENOENT: return .unreadable(ImportFile.Problem(reason: "a dangling symbolic link (to \(destination), which does not exist)", issueType: "not-found"), opaque: true)
            case ELOOP: return .unreadable(ImportFile.Problem(reason: "a symbolic link loop (through \(destination))", issueType: "not-found"), opaque: true)
            default: return .unreadable(ImportFile.Problem(reason: "a symbolic link to \(destination), which cannot be reached: \(describe(e))", issueType: issueType(e)), opaque: true)
            }
        }
        switch target.st_mode & S_IFMT {
        case S_IFDIR:
            guard let dir = opendir(path) else {
                let e = errno
                return .unreadable(ImportFile.Problem(reason: "a folder that cannot be opened: \(describe(e))", issueType: issueType(e)), opaque: true)
            }
            closedir(dir)
            return .directory(DirectoryID(device: UInt64(target.st_dev), inode: UInt64(target.st_ino)))
        case S_IFREG:
            break
        case S_IFIFO where named, S_IFCHR where named:
            break
        case S_IFIFO:
            return .unreadable(ImportFile.Problem(reason: "a FIFO (named pipe), not a regular file", issueType: "not-supported"))
        case S_IFSOCK:
            return .unreadable(ImportFile.Problem(reason: "a socket, not a file", issueType: "not-supported"))
        default:
            return .unreadable(ImportFile.Problem(reason: "a device, not a regular file", issueType: "not-supported"))
        }
        // Opening proves it can be read (permissions, ACLs); O_NONBLOCK keeps a FIFO from waiting for a writer.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            return .unreadable(ImportFile.Problem(reason: describe(e), issueType: issueType(e)))
        }
        close(fd)
        return .file(size: Int(target.st_size))
    }

    /// Walks one directory's entries (names relative to `directory`), depth first, hidden entries skipped.
    static func walk(_ directory: String, names: [String], visited: inout Set<DirectoryID>, into found: inout [ImportFile]) {
        for name in names where !name.hasPrefix(".") {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            let known = kind(of: name)
            switch inspect(path, named: false) {
            case .missing:
                // Removed while the import listed its folder.
                found.append(ImportFile(path: path, kind: known ?? .document, size: 0,
                                        problem: ImportFile.Problem(reason: "removed while the import read its folder", issueType: "not-found")))
            case .directory(let id):
                guard visited.insert(id).inserted else { continue }
                do {
                    walk(path, names: try FileManager.default.contentsOfDirectory(atPath: path), visited: &visited, into: &found)
                } catch {
                    found.append(ImportFile(path: path, kind: .document, size: 0,
                                            problem: ImportFile.Problem(reason: "a folder that cannot be listed", issueType: "exception")))
                }
            case .file(let size):
                // Synthea's bulk export log is not FHIR; other extensions are not import formats.
                guard let known, name != "log.ndjson" else { continue }
                found.append(ImportFile(path: path, kind: known, size: size))
            case .unreadable(let problem, let opaque):
                // A link that leads nowhere or a folder that cannot be opened may hide anything; a FIFO, socket
                // or unopenable file matters when its name says it is input.
                guard known != nil || opaque, name != "log.ndjson" else { continue }
                found.append(ImportFile(path: path, kind: known ?? .document, size: 0, problem: problem))
            }
        }
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case EACCES, EPERM: "permission denied"
        case ENXIO: "not a file that can be opened (a socket?)"
        default: String(cString: strerror(code))
        }
    }

    static func issueType(_ code: Int32) -> String {
        switch code {
        case EACCES, EPERM: "forbidden"
        case ENOENT, ENOTDIR: "not-found"
        default: "exception"
        }
    }

    /// Types that other resources refer to conditionally, imported first.
    static let referencedFirst = ["Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Device", "Medication"]

    /// Synthea writes the organizations and practitioners its patient Bundles refer to in files of their own.
    static let syntheaSharedPrefixes = ["hospitalInformation", "practitionerInformation"]

    static func rank(_ path: String) -> Int {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if let i = syntheaSharedPrefixes.firstIndex(where: { name.hasPrefix($0) }) { return i }
        let type = String(name.prefix { $0 != "." && $0 != "-" && $0 != "_" })
        return syntheaSharedPrefixes.count + (referencedFirst.firstIndex(of: type) ?? referencedFirst.count)
    }

    static func kind(of path: String) -> ImportFile.Kind? {
        let lower = path.lowercased()
        if lower.hasSuffix(".ndjson.gz") || lower.hasSuffix(".jsonl.gz") { return .ndjsonGzip }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".json") || lower.hasSuffix(".xml") { return .document }
        if lower.hasSuffix(".hl7") || lower.hasSuffix(".hl7v2") || lower.hasSuffix(".er7") { return .hl7v2 }
        return nil
    }

    /// A document file's bytes, refusing more than `limit` bytes (NDJSON is streamed by ``LineReader``).
    public static func read(_ file: ImportFile, limit: Int) throws(ImportError) -> [UInt8] {
        guard file.size <= limit else { throw ImportError("\(file.path) is \(file.size) bytes; the limit for one document is \(limit)") }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ImportError("cannot read \(file.path)")
        }
        guard data.count <= limit else { throw ImportError("\(file.path) is \(data.count) bytes; the limit for one document is \(limit)") }
        return [UInt8](data)
    }
}

/// An import that cannot go on (a missing file, an unreachable store), as opposed to a rejected unit.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
