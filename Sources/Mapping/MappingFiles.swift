import Foundation

/// Reading a mapping folder: the shell part of loading a mapping set (the sets themselves parse texts).
enum MappingFiles {
    /// The `.yaml`/`.yml` files of `directory/sub`, sorted, named `sub/file.yaml` (as errors and template names
    /// show them).
    static func folder(_ directory: String, _ sub: String) throws(MappingError) -> [(name: String, text: String)] {
        let folder = (directory as NSString).appendingPathComponent(sub)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw MappingError(folder, line: nil, "cannot list the folder: \(error.localizedDescription)")
        }
        var out: [(String, String)] = []
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { throw MappingError(path, line: nil, "cannot read the file") }
            out.append(("\(sub)/\(name)", String(decoding: data, as: UTF8.self)))
        }
        return out
    }

    /// The text of `directory/name`, or nil when there is no such file.
    static func file(_ directory: String, _ name: String) -> String? {
        FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name)).map { String(decoding: $0, as: UTF8.self) }
    }
}
