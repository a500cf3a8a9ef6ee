import Crypto
import Foundation
import Ledger

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The mempool journal, `data/mempool.log`: every transaction a client submitted over the RPC and the node
/// accepted, written and fsync'ed before the answer leaves, so that `kill -9` does not lose an accepted transaction
/// that was not yet in a block. On start the node admits the journal's transactions again (those committed
/// meanwhile are refused by their nonces and dropped) and rewrites the journal with the ones still pending.
///
/// Records are framed like the consensus WAL's (`u32 length ‖ SHA-256(payload) ‖ payload`, payload = a
/// ``Transaction`` in the ledger encoding). A torn last record is cut off on reading.
final class MempoolJournal: @unchecked Sendable {
    // @unchecked: used only from the Chain actor that owns it.
    let path: String
    private var fd: Int32
    private var end: Int
    /// Records in the file, pending or not: the journal is rewritten when most of them are committed.
    private(set) var records = 0
    private var unsynced = false

    init(path: String) throws {
        self.path = path
        fd = try Self.openFile(path)
        end = Int(lseek(fd, 0, SEEK_END))
    }

    deinit { close(fd) }

    private static func openFile(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NodeError("cannot open the mempool journal \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// The journal's transactions in order, up to the first torn or damaged record (which is cut off).
    func readAll() throws -> [Transaction] {
        let size = Int(lseek(fd, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress?.advanced(by: done), size - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw NodeError("cannot read the mempool journal \(path) at byte \(done)") }
            done += n
        }
        var out: [Transaction] = []
        var at = 0
        while size - at >= 36 {
            let length = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length > 0, size - at - 36 >= length else { break }
            let payload = Array(bytes[at + 36..<at + 36 + length])
            guard Array(SHA256.hash(data: payload)) == Array(bytes[at + 4..<at + 36]),
                  let tx = try? Transaction(encoded: payload) else { break }
            out.append(tx)
            at += 36 + length
        }
        if at < size {
            guard ftruncate(fd, off_t(at)) == 0 else { throw NodeError("cannot cut the torn tail off \(path)") }
        }
        end = at
        records = out.count
        return out
    }

    private static func frame(_ tx: Transaction) -> [UInt8] {
        let payload = tx.encoded
        let n = UInt32(payload.count)
        var record = [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        record += Array(SHA256.hash(data: payload))
        record += payload
        return record
    }

    private static func write(_ bytes: [UInt8], to fd: Int32, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let k = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress?.advanced(by: done), bytes.count - done, off_t(offset + done)) }
            if k < 0, errno == EINTR { continue }
            guard k > 0 else { throw NodeError("cannot write the mempool journal \(path): \(String(cString: strerror(errno)))") }
            done += k
        }
    }

    /// Appends transactions without waiting for the disk; ``sync()`` makes them durable.
    func append(_ txs: [Transaction]) throws {
        guard !txs.isEmpty else { return }
        var bytes: [UInt8] = []
        for tx in txs { bytes += Self.frame(tx) }
        try Self.write(bytes, to: fd, at: end, path: path)
        end += bytes.count
        records += txs.count
        unsynced = true
    }

    /// Returns once everything appended is on disk.
    func sync() throws {
        guard unsynced else { return }
        guard fsync(fd) == 0 else { throw NodeError("cannot fsync the mempool journal \(path): \(String(cString: strerror(errno)))") }
        unsynced = false
    }

    /// Replaces the journal with `txs` (the ones still pending): written to a new file, fsync'ed, renamed over
    /// the old one and the directory fsync'ed, so a crash leaves either journal whole.
    func rewrite(_ txs: [Transaction]) throws {
        let temporary = path + ".new"
        let newFd = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard newFd >= 0 else { throw NodeError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var bytes: [UInt8] = []
        for tx in txs { bytes += Self.frame(tx) }
        do {
            try Self.write(bytes, to: newFd, at: 0, path: temporary)
            guard fsync(newFd) == 0 else { throw NodeError("cannot fsync \(temporary): \(String(cString: strerror(errno)))") }
            guard rename(temporary, path) == 0 else { throw NodeError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))") }
        } catch {
            close(newFd)
            throw error
        }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
        close(fd)
        fd = newFd
        end = bytes.count
        records = txs.count
        unsynced = false
    }
}
