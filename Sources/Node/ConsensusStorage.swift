import Consensus
import Crypto
import Foundation
import Ledger

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The consensus write-ahead log, `data/consensus.wal`: the consensus messages of the height in progress, so a
/// restarted validator gets back its lock, its valid value and the votes it saw. Records are framed like the block
/// store's (`u32 length ‖ SHA-256(payload) ‖ payload`, payload = a ``ConsensusMessage``).
///
/// This node's own messages are written and fsync'ed before they leave the process; messages from peers are
/// written without a sync (losing them costs a retransmission, not safety). The log is emptied once the height's
/// block is in the block store. A torn last record is ignored on reading.
final class ConsensusWAL: @unchecked Sendable {
    // @unchecked: used only from the ConsensusNode actor that owns it.
    let path: String
    private let fd: Int32
    private var end: Int
    /// Records kept per height at most (a flood of votes cannot fill the disk).
    static let maxRecords = 100_000
    private var records = 0

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NodeError("cannot open the consensus WAL \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        end = Int(lseek(fd, 0, SEEK_END))
    }

    deinit { close(fd) }

    /// The messages in the log, in order, up to the first torn or damaged record (which is cut off).
    func readAll() throws -> [ConsensusMessage] {
        var out: [ConsensusMessage] = []
        end = try FramedRecords.readAll(fd: fd, path: path, what: "consensus WAL") { payload in
            guard let message = try? ConsensusMessage(encoded: payload) else { return false }
            out.append(message)
            return true
        }
        records = out.count
        return out
    }

    /// Appends a message; with `sync`, returns once it (and everything before it) is on disk.
    func append(_ message: ConsensusMessage, sync: Bool) throws {
        guard records < Self.maxRecords || sync else { return }
        let record = FramedRecords.frame(message.encoded)
        try FramedRecords.write(record, fd: fd, at: end, path: path, what: "consensus WAL")
        end += record.count
        records += 1
        if sync { guard fsync(fd) == 0 else { throw NodeError("cannot fsync the consensus WAL \(path): \(String(cString: strerror(errno)))") } }
    }

    /// Empties the log (the height it held is committed).
    func reset() throws {
        guard ftruncate(fd, 0) == 0, fsync(fd) == 0 else { throw NodeError("cannot empty the consensus WAL \(path): \(String(cString: strerror(errno)))") }
        end = 0
        records = 0
    }
}

/// The double-sign guard on disk, `data/signer_state`: the last (height, round, step) this validator signed.
/// It is written and fsync'ed before the message it covers leaves the process, so after `kill -9` the validator
/// never signs at or below it again.
///
/// Two 64-byte slots are written alternately, each `sequence u64 ‖ LastSigned (13 bytes) ‖ padding ‖ SHA-256 of the
/// first 32 bytes`; reading takes the valid slot with the higher sequence, so a torn write loses at most the record
/// being written, whose message never left.
final class SignerState: @unchecked Sendable {
    // @unchecked: used only from the ConsensusNode actor that owns it.
    let path: String
    private let fd: Int32
    private var sequence: UInt64 = 0
    private(set) var last: LastSigned?

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NodeError("cannot open the signer state \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        var best: (UInt64, LastSigned)?
        for slot in 0..<2 {
            var bytes = [UInt8](repeating: 0, count: 64)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, off_t(slot * 64)) }
            guard n == 64, Array(SHA256.hash(data: bytes[0..<32])) == Array(bytes[32..<64]) else { continue }
            let seq = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard let signed = try? LastSigned(encoded: Array(bytes[8..<21])) else { continue }
            if best == nil || seq > best?.0 ?? 0 { best = (seq, signed) }
        }
        if let best {
            sequence = best.0
            last = best.1
        }
    }

    deinit { close(fd) }

    /// Records `signed` durably.
    func persist(_ signed: LastSigned) throws {
        sequence += 1
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) }
        bytes += signed.encoded
        bytes += [UInt8](repeating: 0, count: 32 - bytes.count)
        bytes += Array(SHA256.hash(data: bytes))
        let slot = Int(sequence % 2)
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 64, off_t(slot * 64)) }
        guard n == 64, fsync(fd) == 0 else { throw NodeError("cannot write the signer state \(path): \(String(cString: strerror(errno)))") }
        last = signed
    }
}
