public import Contracts
import Foundation
import Yams

/// Reading the files a policy committee writes: a contract definition (YAML or JSON, docs/contracts.md) and a claims
/// file (a JSON list of claims). Every problem is an `unprocessable` ``ServiceError`` whose reason names the file
/// and the place in it (`claims.json: [2].units: …`), so the command line and the gateway report it the same way.
public enum ContractFiles {
    /// Reads a definition and checks it as deploy would (``CompiledContract``). JSON when the text starts with
    /// `{`, else YAML. In JSON a number with a fraction or an exponent is refused (write `"7/2"` or `"3.5"`); in
    /// YAML a plain `3.5` is read exactly from its text. A field the format does not have is refused by name.
    public static func definition(_ text: String, file: String) throws(ServiceError) -> CompiledContract {
        let definition: ContractDefinition = try decode(text, file: file, fields: .definition, json: isJSON(text))
        do {
            return try CompiledContract(definition)
        } catch {
            throw ServiceError(.unprocessable, "\(file): \(error.message)")
        }
    }

    /// Reads a claims file: a JSON list of `{"claimant", "units"}` objects with, where the mechanism reads them,
    /// `weight`, `price`, `side`, `category` and `attributes` (``Claim``). Numbers are integers or strings ("7/2");
    /// floating point is refused, naming the place.
    public static func claims(_ text: String, file: String) throws(ServiceError) -> [Claim] {
        try decode(text, file: file, fields: .claims, json: true)
    }

    /// Whether a definition is JSON: its first character other than white space is `{`.
    static func isJSON(_ text: String) -> Bool {
        text.unicodeScalars.first { !$0.properties.isWhitespace && $0 != "\u{FEFF}" } == "{"
    }

    /// Decodes `text` in four steps, each with its own message: the syntax, numbers that are not integers (JSON),
    /// fields the format does not have, then the typed decoding.
    static func decode<T: Decodable>(_ text: String, file: String, fields: DocumentShape.Fields, json: Bool) throws(ServiceError) -> T {
        func fail(_ reason: String) -> ServiceError { ServiceError(.unprocessable, reason) }
        let shape: DocumentShape
        do {
            shape = json ? try JSONDecoder().decode(DocumentShape.self, from: Data(text.utf8)) : try YAMLDecoder().decode(DocumentShape.self, from: text)
        } catch {
            throw fail(syntax(error, file: file, json: json, bytes: Array(text.utf8)))
        }
        if json, let found = JSONNumberScan.firstNonInteger(in: Array(text.utf8)) {
            let place = found.path.isEmpty ? "" : found.path + ": "
            throw fail("\(file): \(place)\(found.text) is a floating-point number; amounts are exact: write an integer, or a string such as \"7/2\" or \"3.5\"")
        }
        if let unknown = shape.firstUnknownField(fields) {
            throw fail("\(file): \(unknown.path): no such field (here: \(unknown.allowed.joined(separator: ", ")))")
        }
        do {
            return json ? try JSONDecoder().decode(T.self, from: Data(text.utf8)) : try YAMLDecoder().decode(T.self, from: text)
        } catch {
            throw fail(DecodingProblem.describe(error, file: file))
        }
    }

    /// The parser's message with each line cut at 200 characters: it quotes the line in error, which may be long.
    static func clipped(_ error: YamlError) -> String {
        "\(error)".split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.count > 200 ? $0.prefix(200) + "…" : $0 }.joined(separator: "\n")
    }

    /// A syntax error's place, with what the parser said.
    static func syntax(_ error: any Error, file: String, json: Bool, bytes: [UInt8]) -> String {
        if let yaml = error as? YamlError { return "\(file): not valid YAML: \(clipped(yaml))" }
        if case DecodingError.dataCorrupted(let context) = error, let yaml = context.underlyingError as? YamlError {
            return "\(file): not valid YAML: \(clipped(yaml))"
        }
        if json, case DecodingError.dataCorrupted(let context) = error, context.codingPath.isEmpty {
            guard let place = JSONNumberScan.malformedPlace(in: bytes) else { return "\(file): not valid JSON: \(context.debugDescription)" }
            return "\(file): not valid JSON: \(place)"
        }
        return DecodingProblem.describe(error, file: file)
    }
}
