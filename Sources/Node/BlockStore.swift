import Crypto
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Ledger

/// A committed block with the certificate that finalized it (CometBFT's "seen commit": the next block carries it
/// as its last commit; the chain's tip keeps it only here).
public struct StoredBlock: Sendable, Hashable {
    public var block: Block
    public var commit: CommitCertificate

    public init(block: Block, commit: CommitCertificate) {
        self.block = block
        self.commit = commit
    }
}

/// The block store: one append-only file, `data/blocks.log`, of framed records
///
/// ```
/// u32 length (big-endian) ‖ SHA-256(payload) ‖ payload = Block ‖ CommitCertificate (docs/ledger-encoding.md)
/// ```
///
/// A block is committed once its record is written and `fsync`ed. A crash can leave only a torn last record
/// (short, or its checksum wrong): opening the store for writing cuts it off, which loses nothing committed. A bad
/// record followed by good ones is damage, not a torn write, and opening refuses it rather than drop data.
///
/// Readers (the `receipt` and `consent` commands) open the file read-only beside a running node; they stop at the
/// last complete record.
public final class BlockStore: Sendable {
    public let path: String
    private let fd: Int32
    private let writable: Bool
    private struct Index {
        /// The file offset of each block's record, by height − 1.
        var offsets: [Int] = []
        /// Where the next record goes.
        var end = 0
    }
    private let index = Mutex(Index())

    /// Opens (creating when `writable`) the store at `path`.
    public init(path: String, writable: Bool) throws {
        self.path = path
        self.writable = writable
        let flags = writable ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw NodeError("cannot open the block store \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        do {
            try scan()
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The height of the last stored block (0 when empty).
    public var height: UInt64 { index.withLock { UInt64($0.offsets.count) } }

    /// Re-reads records appended since the last look (a reader beside a running node).
    public func refresh() throws { try index.withLock { try scan(&$0, truncateTail: false, checkDamage: false) } }

    private func scan() throws {
        try index.withLock { try scan(&$0, truncateTail: writable) }
    }

    /// Reads the records after the last one indexed. A record that is incomplete or fails its checksum ends the
    /// scan; with `checkDamage` (on opening) it is an error when a good record follows it, since only the last
    /// record may be torn. A reader polling beside a running node skips that search: the writer's unfinished
    /// append is the normal case there, and searching every byte after it on every poll is what a reader cannot
    /// afford.
    private func scan(_ ix: inout Index, truncateTail: Bool, checkDamage: Bool = true) throws {
        let size = Int(lseek(fd, 0, SEEK_END))
        var at = ix.end
        var expected = UInt64(ix.offsets.count) + 1
        while at < size {
            guard let payload = try readRecord(at: at, fileSize: size) else {
                // Torn: the record runs past the end, or its checksum is wrong. Only the last record may be torn.
                if checkDamage, try anyCompleteRecordAfter(at, fileSize: size) {
                    throw NodeError("the block store \(path) is damaged at byte \(at) (height \(expected)): a bad record is followed by good ones; restore it from a peer or a backup")
                }
                if truncateTail {
                    guard ftruncate(fd, off_t(at)) == 0, fsync(fd) == 0 else {
                        throw NodeError("cannot cut the torn last record off \(path): \(String(cString: strerror(errno)))")
                    }
                }
                break
            }
            let stored = try decode(payload, at: at)
            guard stored.block.header.height == expected else {
                throw NodeError("the block store \(path) holds height \(stored.block.header.height) at byte \(at); expected \(expected)")
            }
            ix.offsets.append(at)
            at += 4 + 32 + payload.count
            expected += 1
        }
        ix.end = at
    }

    /// The payload of the record at `at`, or nil if it is incomplete or its checksum is wrong.
    private func readRecord(at: Int, fileSize: Int) throws -> [UInt8]? {
        guard fileSize - at >= 36 else { return nil }
        let head = try read(at: at, count: 36)
        let length = head[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, fileSize - at - 36 >= length else { return nil }
        let payload = try read(at: at + 36, count: length)
        guard Array(SHA256.hash(data: payload)) == Array(head[4..<36]) else { return nil }
        return payload
    }

    /// Whether a complete, checksummed record starts anywhere after a bad one (damage rather than a torn tail).
    private func anyCompleteRecordAfter(_ bad: Int, fileSize: Int) throws -> Bool {
        // A torn append is at most one record long; look for a valid record start in what follows.
        var at = bad + 1
        while at + 36 <= fileSize {
            if try readRecord(at: at, fileSize: fileSize) != nil { return true }
            at += 1
            if at - bad > (64 << 20) { break }
        }
        return false
    }

    private func read(at offset: Int, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress?.advanced(by: done), count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw NodeError("cannot read the block store \(path) at byte \(offset): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw NodeError("the block store \(path) ended at byte \(offset + done) inside a record") }
            done += n
        }
        return buffer
    }

    private func decode(_ payload: [UInt8], at offset: Int) throws -> StoredBlock {
        var r = LedgerReader(payload)
        r.maxBytes = 64 << 20
        do throws(LedgerDecodingError) {
            let block = try Block.decode(from: &r)
            let commit = try CommitCertificate.decode(from: &r)
            guard r.isAtEnd else { throw LedgerDecodingError("trailing bytes after the commit", at: r.offset) }
            return StoredBlock(block: block, commit: commit)
        } catch {
            throw NodeError("the block store \(path) has an undecodable record at byte \(offset): \(error)")
        }
    }

    /// Appends the block of the next height and its commit, and returns once they are on disk.
    public func append(_ stored: StoredBlock) throws {
        guard writable else { throw NodeError("the block store \(path) is open read-only") }
        var w = LedgerWriter()
        w.value(stored.block)
        w.value(stored.commit)
        let payload = w.bytes
        var record: [UInt8] = []
        record.reserveCapacity(36 + payload.count)
        let n = UInt32(payload.count)
        record += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        record += Array(SHA256.hash(data: payload))
        record += payload
        try index.withLock { (ix) throws in
            guard stored.block.header.height == UInt64(ix.offsets.count) + 1 else {
                throw NodeError("cannot append height \(stored.block.header.height) after height \(ix.offsets.count)")
            }
            let end = ix.end
            var done = 0
            while done < record.count {
                let k = record.withUnsafeBytes { pwrite(fd, $0.baseAddress?.advanced(by: done), record.count - done, off_t(end + done)) }
                if k < 0 {
                    if errno == EINTR { continue }
                    throw NodeError("cannot write the block store \(path): \(String(cString: strerror(errno)))")
                }
                done += k
            }
            guard fsync(fd) == 0 else { throw NodeError("cannot fsync the block store \(path): \(String(cString: strerror(errno)))") }
            ix.offsets.append(end)
            ix.end = end + record.count
        }
    }

    /// The block at `height` (1-based) with its commit, or nil past the tip.
    public func block(at height: UInt64) throws -> StoredBlock? {
        let place: (at: Int, end: Int)? = index.withLock { ix in
            guard height >= 1, height <= UInt64(ix.offsets.count) else { return nil }
            return (ix.offsets[Int(height - 1)], ix.end)
        }
        guard let place else { return nil }
        guard let payload = try readRecord(at: place.at, fileSize: place.end) else {
            throw NodeError("the block store \(path) changed under the node at height \(height)")
        }
        return try decode(payload, at: place.at)
    }
}

/// An exclusive lock on a node's data directory (`data/LOCK`), held while the node runs: two nodes on one home
/// would fork its chain.
public final class DirectoryLock: Sendable {
    /// The locked file; nil once released.
    private let descriptor: Mutex<Int32?>

    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NodeError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw NodeError("another node runs on this home (\(path) is locked); stop it first")
        }
        self.descriptor = Mutex(fd)
    }

    /// Unlocks the directory (a stopped node releases its home, so that it can be started again in the same
    /// process). Calling it again does nothing.
    public func release() {
        descriptor.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit { release() }
}
