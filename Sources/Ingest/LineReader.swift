import CZlib
import Foundation

/// Reads newline-delimited records from a file (plain or gzip), a chunk at a time, so a bulk export of any
/// size is imported in bounded memory. A line longer than `maxLine` is reported as such and skipped.
final class LineReader {
    enum Line {
        case line([UInt8])
        /// A line over the limit: its first bytes (for the dead letter) and its full length.
        case tooLong(prefix: [UInt8], length: Int)
    }

    private let source: any ChunkSource
    private let maxLine: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var finished = false
    /// Bytes of the file read so far (compressed bytes for gzip), for progress.
    var consumed: Int { source.consumed }

    init(path: String, gzip: Bool, maxLine: Int) throws(ImportError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ImportError("cannot read \(path)") }
        source = gzip ? try GzipChunks(handle: handle, name: path) : FileChunks(handle: handle)
        self.maxLine = maxLine
    }

    init(bytes: [UInt8], maxLine: Int) {
        source = MemoryChunks(bytes)
        self.maxLine = maxLine
    }

    /// The next line without its `\n` (and `\r`), or nil at the end.
    func next() throws(ImportError) -> Line? {
        var overflow: (prefix: [UInt8], length: Int)?
        while true {
            if let nl = buffer[position...].firstIndex(of: 0x0A) {
                var line = buffer[position..<nl]
                position = nl + 1
                if line.last == 0x0D { line = line.dropLast() }
                if let o = overflow { return .tooLong(prefix: o.prefix, length: o.length + line.count) }
                if line.count > maxLine { return .tooLong(prefix: Array(line.prefix(4096)), length: line.count) }
                return .line(Array(line))
            }
            if buffer.count - position > maxLine {
                // Keep a prefix for the dead letter and drop the rest of the line as it streams by.
                if overflow == nil { overflow = (Array(buffer[position..<position + min(4096, buffer.count - position)]), 0) }
                overflow?.length += buffer.count - position
                buffer.removeAll(keepingCapacity: true)
                position = 0
            }
            if finished {
                guard position < buffer.count || overflow != nil else { return nil }
                let rest = buffer[position...]
                position = buffer.count
                if let o = overflow { return .tooLong(prefix: o.prefix, length: o.length + rest.count) }
                if rest.count > maxLine { return .tooLong(prefix: Array(rest.prefix(4096)), length: rest.count) }
                return .line(Array(rest.last == 0x0D ? rest.dropLast() : rest))
            }
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            guard let chunk = try source.nextChunk() else {
                finished = true
                continue
            }
            buffer += chunk
        }
    }
}

protocol ChunkSource: AnyObject {
    var consumed: Int { get }
    func nextChunk() throws(ImportError) -> [UInt8]?
}

final class FileChunks: ChunkSource {
    let handle: FileHandle
    var consumed = 0

    init(handle: FileHandle) { self.handle = handle }
    deinit { try? handle.close() }

    func nextChunk() throws(ImportError) -> [UInt8]? {
        let data = handle.readData(ofLength: 4 << 20)
        consumed += data.count
        return data.isEmpty ? nil : [UInt8](data)
    }
}

final class MemoryChunks: ChunkSource {
    var bytes: [UInt8]?
    var consumed = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func nextChunk() throws(ImportError) -> [UInt8]? {
        defer { bytes = nil }
        consumed += bytes?.count ?? 0
        return bytes
    }
}

/// Inflates a gzip file (every member of a multi-member file) a chunk at a time.
final class GzipChunks: ChunkSource {
    let files: FileChunks
    let name: String
    var stream = z_stream()
    var input: [UInt8] = []
    var inputDone = false
    var streamEnded = false
    var consumed: Int { files.consumed }

    init(handle: FileHandle, name: String) throws(ImportError) {
        files = FileChunks(handle: handle)
        self.name = name
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImportError("\(name): cannot start gzip decompression")
        }
    }

    deinit { inflateEnd(&stream) }

    func nextChunk() throws(ImportError) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            if stream.avail_in == 0 && !inputDone {
                if let chunk = try files.nextChunk() {
                    input = chunk
                    stream.avail_in = UInt32(chunk.count)
                } else {
                    inputDone = true
                    input = []
                }
            }
            if stream.avail_in == 0 && inputDone {
                if streamEnded || consumed == 0 { return nil }
                throw ImportError("\(name): the gzip data is truncated")
            }
            let (rc, produced, remaining): (Int32, Int, Int) = input.withUnsafeMutableBufferPointer { inBuf in
                out.withUnsafeMutableBufferPointer { outBuf in
                    let offset = inBuf.count - Int(stream.avail_in)
                    stream.next_in = inBuf.baseAddress.map { $0 + offset }
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, outBuf.count - Int(stream.avail_out), Int(stream.avail_in))
                }
            }
            stream.avail_in = UInt32(remaining)
            if rc == Z_STREAM_END {
                streamEnded = true
                inflateReset(&stream)  // another gzip member may follow
            } else if rc == Z_OK || rc == Z_BUF_ERROR {
                if produced > 0 { streamEnded = false }
            } else {
                throw ImportError("\(name): the gzip data is corrupt (zlib error \(rc))")
            }
            if produced > 0 { return Array(out[0..<produced]) }
        }
    }
}
