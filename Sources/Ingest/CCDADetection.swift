/// Whether an XML file is a C-CDA document rather than a FHIR resource: its root element is `ClinicalDocument`
/// (with or without a prefix). Reads only the prolog: the XML declaration, comments, processing instructions and a
/// DOCTYPE are skipped up to the first element.
enum CCDADetection {
    static func isClinicalDocument(_ bytes: [UInt8]) -> Bool {
        var i = 0
        let n = min(bytes.count, 64 << 10)
        if n >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        while i < n {
            guard bytes[i] == UInt8(ascii: "<") else { i += 1; continue }
            guard i + 1 < n else { return false }
            switch bytes[i + 1] {
            case UInt8(ascii: "?"), UInt8(ascii: "!"):
                // A declaration, processing instruction, comment or DOCTYPE: skip to its end.
                let isComment = i + 3 < n && bytes[i + 2] == UInt8(ascii: "-") && bytes[i + 3] == UInt8(ascii: "-")
                var j = i + 2
                while j < n {
                    if isComment {
                        if j + 2 < n, bytes[j] == UInt8(ascii: "-"), bytes[j + 1] == UInt8(ascii: "-"), bytes[j + 2] == UInt8(ascii: ">") { j += 3; break }
                    } else if bytes[j] == UInt8(ascii: ">") {
                        j += 1
                        break
                    }
                    j += 1
                }
                i = j
            default:
                // The root element's name, without a namespace prefix.
                var j = i + 1
                var start = j
                while j < n, bytes[j] != UInt8(ascii: " "), bytes[j] != UInt8(ascii: ">"), bytes[j] != UInt8(ascii: "/"),
                      bytes[j] != 0x0A, bytes[j] != 0x0D, bytes[j] != 0x09 {
                    if bytes[j] == UInt8(ascii: ":") { start = j + 1 }
                    j += 1
                }
                return Array(bytes[start..<j]) == Array("ClinicalDocument".utf8)
            }
        }
        return false
    }
}
