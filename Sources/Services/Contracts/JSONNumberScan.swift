/// Finds a number written with a fraction or an exponent in JSON text, with where it is: contract files carry
/// exact amounts, and JSONDecoder would read `3.0` or `1e2` as the integers 3 and 100 (and `3.5` not at all), so such
/// a number is refused before decoding, naming its place (`[2].units`) and saying to write `"7/2"` or `"3.5"`.
enum JSONNumberScan {
    /// A non-integer number: its place (``DecodingProblem`` writes paths the same way) and its text.
    struct Found: Equatable {
        var path: String
        var text: String
    }

    /// Containers nested deeper than this are left to the decoder, which refuses them itself.
    static let maxDepth = 256

    /// The first number in `bytes` written with '.', 'e' or 'E'; nil when there is none or the text is not JSON
    /// (the decoder then says what is wrong with it).
    static func firstNonInteger(in bytes: [UInt8]) -> Found? {
        var scanner = Scanner(bytes: bytes)
        if case .found(let found) = scanner.value(path: "", depth: 0) { return found }
        return nil
    }

    /// Where text the decoder refused stops being JSON, as "line L, column C" (columns in bytes, from 1), for a
    /// message that points at the place; nil when this scan finds nothing wrong.
    static func malformedPlace(in bytes: [UInt8]) -> String? {
        var scanner = Scanner(bytes: bytes)
        var offset: Int?
        switch scanner.value(path: "", depth: 0) {
        case .malformed: offset = scanner.i
        case .ok, .found:
            scanner.skipSpace()
            if scanner.i < bytes.count { offset = scanner.i }
        }
        guard let offset else { return nil }
        if scanner.tooDeep { return "containers nested more than \(maxDepth) deep" }
        let end = min(offset, bytes.count)
        let line = bytes[..<end].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let lineStart = bytes[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return "line \(line), column \(end - lineStart + 1)"
    }

    private enum Outcome {
        case ok
        case found(Found)
        case malformed
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        /// Set when the scan stopped at ``JSONNumberScan/maxDepth``.
        var tooDeep = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func value(path: String, depth: Int) -> Outcome {
            guard depth < JSONNumberScan.maxDepth else {
                tooDeep = true
                return .malformed
            }
            skipSpace()
            guard i < bytes.count else { return .malformed }
            switch bytes[i] {
            case UInt8(ascii: "{"): return object(path: path, depth: depth)
            case UInt8(ascii: "["): return list(path: path, depth: depth)
            case UInt8(ascii: "\""): return string() == nil ? .malformed : .ok
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = i
                var fractional = false
                while i < bytes.count, Self.isNumberByte(bytes[i]) {
                    if bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") { fractional = true }
                    i += 1
                }
                guard fractional else { return .ok }
                return .found(Found(path: path, text: String(decoding: bytes[start..<i], as: UTF8.self)))
            default:
                // true, false, null.
                let start = i
                while i < bytes.count, bytes[i] >= UInt8(ascii: "a"), bytes[i] <= UInt8(ascii: "z") { i += 1 }
                return i > start ? .ok : .malformed
            }
        }

        static func isNumberByte(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
        }

        mutating func object(path: String, depth: Int) -> Outcome {
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .ok }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let key = string() else { return .malformed }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return .malformed }
                i += 1
                let outcome = value(path: path.isEmpty ? key : path + "." + key, depth: depth + 1)
                guard case .ok = outcome else { return outcome }
                skipSpace()
                guard i < bytes.count else { return .malformed }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .ok }
                guard bytes[i] == UInt8(ascii: ",") else { return .malformed }
                i += 1
            }
        }

        mutating func list(path: String, depth: Int) -> Outcome {
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .ok }
            var index = 0
            while true {
                let outcome = value(path: path + "[\(index)]", depth: depth + 1)
                guard case .ok = outcome else { return outcome }
                index += 1
                skipSpace()
                guard i < bytes.count else { return .malformed }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .ok }
                guard bytes[i] == UInt8(ascii: ",") else { return .malformed }
                i += 1
            }
        }

        /// Reads a string at `i` (on its opening quote); its text with escapes left as written, which is enough
        /// for a key in a message.
        mutating func string() -> String? {
            let start = i + 1
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""):
                    let text = String(decoding: bytes[start..<i], as: UTF8.self)
                    i += 1
                    return text
                default: i += 1
                }
            }
            return nil
        }
    }
}
