//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import TOMLKit

/// What `config show` and `config get` print: the configuration with every secret hidden.
///
/// A secret is any string of the `[secrets]` table and any string under a key that looks like one
/// (``Configuration/isSecretKey(_:)``), at any depth: a table or an array that holds one shows it as
/// `"********"` too.
extension Configuration {
    /// The value at a dotted key with `${VAR}` expanded and secrets hidden, as ``redactedDocument()``
    /// shows it: `config get providers` prints the providers' table without their keys.
    public func redactedValue(at key: String) -> JSONValue? {
        Self.value(at: key, in: redactedDocument())
    }

    /// config.toml's text with the value of every secret replaced by `"********"`.
    ///
    /// The file is shown as written, comments included, when a line-by-line reading hides every
    /// secret: a line that assigns a quoted string to a secret key (by its table header and its own,
    /// possibly dotted, key) shows `key = "********"`. That reading is then checked: the text it gives
    /// must parse to exactly the document with its secrets hidden. When it does not (a multi-line
    /// string, an inline table or an array holding a secret, a header the reading does not follow),
    /// the document is written out again from its values instead, without the file's comments, so
    /// no layout can show a secret.
    ///
    /// - Throws: ``ConfigurationError`` when `text` is not valid TOML.
    public static func redactedTOML(_ text: String) throws(ConfigurationError) -> String {
        let document = try Configuration(toml: text, environment: [:]).document
        let hidden = redact(.object(document), key: nil, underSecrets: false)
        // A multi-line string can hold lines that read as comments once its first line is hidden: such
        // a file is never shown line by line.
        let lines = redactedLines(text)
        if !text.contains("\"\"\"") && !text.contains("\'\'\'"),
            let table = try? TOMLTable(string: lines), JSONValue.object(convert(table)) == hidden
        {
            return lines
        }
        guard case .object(let object) = hidden else { return "" }
        return "# config.toml with its secrets hidden, written out from its values (its comments are not shown)\n"
            + tomlTable(object).convert(to: .toml) + "\n"
    }

    /// The line-by-line reading of ``redactedTOML(_:)``, unchecked.
    private static func redactedLines(_ text: String) -> String {
        var table: [String] = []
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("[") {
                table = headerPath(trimmed) ?? []
                return String(line)
            }
            guard !trimmed.hasPrefix("#"), let eq = trimmed.firstIndex(of: "=") else { return String(line) }
            let path = table + keyPath(trimmed[..<eq])
            let value = trimmed[trimmed.index(after: eq)...].drop { $0 == " " || $0 == "\t" }
            guard value.hasPrefix("\"") || value.hasPrefix("'"),
                path.first == "secrets" || path.contains(where: isSecretKey)
            else { return String(line) }
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            return "\(indent)\(trimmed[..<eq].trimmingCharacters(in: .whitespaces)) = \"********\""
        }.joined(separator: "\n")
    }

    /// `[a . "b"]  # note` or `[[a.b]]` → `["a", "b"]`; `nil` when the line is not a header.
    private static func headerPath(_ line: Substring) -> [String]? {
        var inner = line.drop { $0 == "[" }
        guard let close = inner.firstIndex(of: "]") else { return nil }
        inner = inner[..<close]
        return keyPath(inner)
    }

    /// A TOML key, possibly dotted and quoted, as its parts.
    private static func keyPath(_ key: Substring) -> [String] {
        key.split(separator: ".").map { part in
            var p = part.trimmingCharacters(in: .whitespaces)
            if p.count >= 2, let q = p.first, q == "\"" || q == "'", p.last == q {
                p = String(p.dropFirst().dropLast())
            }
            return p
        }
    }

    private static func tomlTable(_ object: [String: JSONValue]) -> TOMLTable {
        let table = TOMLTable()
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            if let v = tomlValue(value) { table[key] = v }
        }
        return table
    }

    private static func tomlValue(_ value: JSONValue) -> (any TOMLValueConvertible)? {
        switch value {
        case .null: return nil
        case .bool(let b): return b
        case .int(let i): return Int(i)
        case .double(let d): return d
        case .string(let s): return s
        case .object(let o): return tomlTable(o)
        case .array(let a):
            let array = TOMLArray()
            for element in a { if let v = tomlValue(element) { array.append(v) } }
            return array
        }
    }
}
