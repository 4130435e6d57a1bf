//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Changes one key of `config.toml` in place, keeping every comment and every other line.
///
/// The edit is textual (the key's line in its `[section]`, a commented-out `# key = ...` line
/// there, or a new line or section), then the result is parsed again before it replaces the file
/// atomically, so a bad value never corrupts the configuration.
public enum ConfigEditor {
    /// Sets `key` (dotted: `agent.default_model`) to `value` in `text`.
    ///
    /// `value` is a TOML literal when it parses as one (`true`, `42`, `"text"`, `["a", "b"]`),
    /// otherwise a plain string.
    ///
    /// - Throws: ``ConfigurationError`` for a malformed key, or when the result is not valid TOML.
    public static func set(_ key: String, to value: String, in text: String) throws(ConfigurationError) -> String {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy(isBareKey) else {
            throw .unknownKey(
                "invalid key \"\(key)\": use dotted names of letters, digits, '_' and '-', e.g. agent.default_model"
            )
        }
        let literal = tomlLiteral(value)
        let section = parts.dropLast().joined(separator: ".")
        let name = parts.last!
        var lines = text.components(separatedBy: "\n")

        // Find the section's line range.
        var start = 0
        var end = lines.count
        var found = section.isEmpty
        if section.isEmpty {
            end = lines.firstIndex(where: { headerName($0) != nil }) ?? lines.count
        } else if let h = lines.firstIndex(where: { headerName($0) == section }) {
            found = true
            start = h + 1
            end = lines[start...].firstIndex(where: { headerName($0) != nil }) ?? lines.count
        }

        let newLine = "\(name) = \(literal)"
        if found {
            if let i = lines[start..<end].firstIndex(where: { assignedKey($0) == name }) {
                lines[i] = newLine
            } else if let i = lines[start..<end].firstIndex(where: { commentedKey($0) == name }) {
                lines[i] = newLine
            } else {
                // After the section's last non-blank line.
                var insert = end
                while insert > start, lines[insert - 1].trimmingCharacters(in: .whitespaces).isEmpty { insert -= 1 }
                lines.insert(newLine, at: insert)
            }
        } else {
            while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
            lines += ["", "[\(section)]", newLine, ""]
        }
        let result = lines.joined(separator: "\n")
        do {
            _ = try Configuration(toml: result, environment: [:])
        } catch {
            throw .invalid("setting \(key) = \(literal) would make config.toml invalid: \(error.message)")
        }
        return result
    }

    /// Sets `key` in the file at `paths.configFile` (created from the template if missing).
    ///
    /// The read, the edit and the atomic replace run under an advisory lock
    /// (``FileLock/path(guarding:)`` of config.toml), so two processes setting different keys at
    /// once both land: without it each read the same old file and the later rename dropped the
    /// other's change.
    ///
    /// - Parameters:
    ///   - key: the dotted key (`agent.default_model`).
    ///   - value: a TOML literal, else a plain string (``set(_:to:in:)``).
    ///   - paths: the home whose config.toml changes.
    ///   - environment: for `${VAR}` expansion while checking.
    ///   - problems: what the commands would say about a configuration (``Configuration/typeWarnings``
    ///     and what the memory, sandbox and local model settings say: warnings, or refusals); a change
    ///     that adds one is refused, so `logging.level = "bogus"` is said now and not on every later
    ///     command. Problems the file had already do not stop other changes.
    /// - Throws: ``ConfigurationError`` when the key or value is invalid or the file cannot be
    ///   written; the file is then unchanged.
    public static func set(
        _ key: String,
        to value: String,
        paths: LocalGPTPaths,
        environment: [String: String] = ProcessEnvironment.current,
        problems: (Configuration) -> [String] = { $0.typeWarnings }
    ) throws(ConfigurationError) {
        _ = try Configuration.load(paths: paths, environment: environment)
        let file = paths.configFile
        try FileLock.withExclusive(FileLock.path(guarding: file), failure: ConfigurationError.io) {
            () throws(ConfigurationError) in
            guard let data = FileSystem.readFile(file), let text = String(data: data, encoding: .utf8) else {
                throw .io("cannot read \(file)")
            }
            let updated = try set(key, to: value, in: text)
            let before = Set(problems(try Configuration(toml: text, path: file, environment: environment)))
            let added = problems(try Configuration(toml: updated, path: file, environment: environment)).filter {
                !before.contains($0)
            }
            if !added.isEmpty {
                throw .invalid(
                    "refused \(key) = \(tomlLiteral(value)), \(file) is unchanged. With it, LocalGPT would say: "
                        + added.joined(separator: "; ")
                )
            }
            try FileSystem.writeAtomically(Data(updated.utf8), to: file)
        }
    }

    /// The TOML literal for a command-line value.
    static func tomlLiteral(_ value: String) -> String {
        if let _ = try? Configuration(toml: "v = \(value)", environment: [:]), !value.contains("\n") {
            return value
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func isBareKey(_ s: String) -> Bool {
        !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
            }
    }

    /// `[a.b]` -> "a.b"; `[[x]]` -> "[x]" (never equal to a plain section name).
    private static func headerName(_ line: String) -> String? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("[") else { return nil }
        if t.hasPrefix("[[") {
            return "[" + t.dropFirst(2).prefix(while: { $0 != "]" }).trimmingCharacters(in: .whitespaces) + "]"
        }
        guard let close = t.firstIndex(of: "]") else { return nil }
        return t[t.index(after: t.startIndex)..<close].split(separator: ".").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        .joined(separator: ".")
    }

    private static func assignedKey(_ line: String) -> String? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard !t.hasPrefix("#"), let eq = t.firstIndex(of: "=") else { return nil }
        return t[..<eq].trimmingCharacters(in: .whitespaces)
    }

    private static func commentedKey(_ line: String) -> String? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("#") else { return nil }
        let body = t.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces)
        guard let eq = body.firstIndex(of: "=") else { return nil }
        let k = body[..<eq].trimmingCharacters(in: .whitespaces)
        return isBareKey(k) ? k : nil
    }
}
