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
        var out: [Transaction] = []
        end = try FramedRecords.readAll(fd: fd, path: path, what: "mempool journal") { payload in
            guard let tx = try? Transaction(encoded: payload) else { return false }
            out.append(tx)
            return true
        }
        records = out.count
        return out
    }

    /// Appends transactions without waiting for the disk; ``sync()`` makes them durable.
    func append(_ txs: [Transaction]) throws {
        guard !txs.isEmpty else { return }
        var bytes: [UInt8] = []
        for tx in txs { bytes += FramedRecords.frame(tx.encoded) }
        try FramedRecords.write(bytes, fd: fd, at: end, path: path, what: "mempool journal")
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
        for tx in txs { bytes += FramedRecords.frame(tx.encoded) }
        do {
            try FramedRecords.write(bytes, fd: newFd, at: 0, path: temporary, what: "mempool journal")
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
