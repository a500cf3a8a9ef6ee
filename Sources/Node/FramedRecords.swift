import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The record framing of the node's append-only files (consensus WAL, mempool journal): `u32 length ‖
/// SHA-256(payload) ‖ payload`. A reader stops at the first record that is incomplete, fails its checksum or is
/// refused by the caller: a crash can tear only the last one.
enum FramedRecords {
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        var record = [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        record += Array(SHA256.hash(data: payload))
        record += payload
        return record
    }

    /// Reads the whole file and hands each good payload to `accept` in order, until one is torn, damaged or refused
    /// (`accept` returns false); the file is cut after the last accepted record. Returns that length.
    static func readAll(fd: Int32, path: String, what: String, accept: ([UInt8]) -> Bool) throws -> Int {
        let size = Int(lseek(fd, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress?.advanced(by: done), size - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw NodeError("cannot read the \(what) \(path) at byte \(done)") }
            done += n
        }
        var at = 0
        while size - at >= 36 {
            let length = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length > 0, size - at - 36 >= length else { break }
            let payload = Array(bytes[at + 36..<at + 36 + length])
            guard Array(SHA256.hash(data: payload)) == Array(bytes[at + 4..<at + 36]), accept(payload) else { break }
            at += 36 + length
        }
        if at < size {
            guard ftruncate(fd, off_t(at)) == 0 else { throw NodeError("cannot cut the torn tail off the \(what) \(path)") }
        }
        return at
    }

    /// Writes all of `bytes` at `offset`.
    static func write(_ bytes: [UInt8], fd: Int32, at offset: Int, path: String, what: String) throws {
        var done = 0
        while done < bytes.count {
            let k = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress?.advanced(by: done), bytes.count - done, off_t(offset + done)) }
            if k < 0, errno == EINTR { continue }
            guard k > 0 else { throw NodeError("cannot write the \(what) \(path): \(String(cString: strerror(errno)))") }
            done += k
        }
    }
}
