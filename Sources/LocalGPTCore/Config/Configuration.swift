//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import TOMLKit

/// `config.toml`, loaded: the whole document as JSON values plus typed accessors for the keys
/// the host reads itself.
///
/// String values may reference environment variables as `${NAME}`; they are expanded on read
/// (``value(at:)``), so the file keeps the reference and a secret never has to be written into
/// it. A reference to an unset variable stays as written.
public struct Configuration: Sendable {
    /// The document as parsed, before `${VAR}` expansion.
    public var document: [String: JSONValue]
    /// The environment used for `${VAR}` expansion.
    public var environment: [String: String]
    /// Where the document came from, for messages.
    public var path: String?

    public init(
        document: [String: JSONValue] = [:],
        environment: [String: String] = ProcessEnvironment.current,
        path: String? = nil
    ) {
        self.document = document
        self.environment = environment
        self.path = path
    }

    /// Parses TOML text.
    ///
    /// - Throws: ``ConfigurationError`` with the line and column of a syntax error.
    public init(
        toml text: String,
        path: String? = nil,
        environment: [String: String] = ProcessEnvironment.current
    ) throws(ConfigurationError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .invalid(
                "\(path ?? "config.toml"): line \(error.source.begin.line), column \(error.source.begin.column): "
                    + error.description
            )
        } catch {
            throw .invalid("\(path ?? "config.toml"): \(error)")
        }
        self.init(document: Self.convert(table), environment: environment, path: path)
    }

    /// Loads `paths.configFile`, creating it from the commented template when it does not exist.
    ///
    /// - Throws: ``ConfigurationError`` when the file cannot be read, created, or parsed.
    public static func load(
        paths: LocalGPTPaths,
        environment: [String: String] = ProcessEnvironment.current
    ) throws(ConfigurationError) -> Configuration {
        let file = paths.configFile
        if !FileSystem.exists(file) {
            try FileSystem.createDirectory(paths.home, mode: 0o700)
            // Created, never replaced: a process that found it missing a moment ago must not put the
            // template over a change another process made since (`config set` at once in two shells).
            _ = try FileSystem.createAtomically(Data(ConfigTemplate.text.utf8), at: file)
        }
        guard let data = FileSystem.readFile(file) else {
            throw .io("cannot read \(file)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalid("\(file) is not UTF-8 text")
        }
        return try Configuration(toml: text, path: file, environment: environment)
    }

    // MARK: Values

    /// The value at a dotted key (`"agent.default_model"`), with `${VAR}` expanded in strings.
    public func value(at key: String) -> JSONValue? {
        rawValue(at: key).map(expand)
    }

    /// The value at a dotted key as written in the file.
    public func rawValue(at key: String) -> JSONValue? {
        Self.value(at: key, in: .object(document))
    }

    /// The value at a dotted key inside `root`.
    static func value(at key: String, in root: JSONValue) -> JSONValue? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        var current = root
        for part in parts {
            guard let next = current[part] else { return nil }
            current = next
        }
        return current
    }

    public func string(_ key: String) -> String? { value(at: key)?.stringValue }

    public func strings(_ key: String) -> [String] {
        value(at: key)?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// `agent.default_model`.
    public var defaultModel: String {
        string("agent.default_model") ?? ConfigTemplate.defaultModel
    }

    /// `plugins.paths`: extra plugin folders, absolute or relative to the home folder.
    public var pluginPaths: [String] { strings("plugins.paths") }

    /// `plugins.disabled`: plugin ids that must not load.
    public var disabledPlugins: Set<String> { Set(strings("plugins.disabled")) }

    /// `logging.level`.
    public var logLevel: String { string("logging.level") ?? "info" }

    /// A secret by name: `[secrets]` in the file (with `${VAR}` expansion), else the environment.
    /// A `${VAR}` that stays unresolved is not a secret: it returns `nil`.
    public func secret(named name: String) -> String? {
        if let v = value(at: "secrets." + name)?.stringValue {
            return v.contains("${") ? nil : v
        }
        if let v = environment[name], !v.isEmpty { return v }
        return nil
    }

    /// The document with `${VAR}` expanded and secrets replaced by `"********"`, for display.
    public func redactedDocument() -> JSONValue {
        Self.redact(expand(.object(document)), key: nil, underSecrets: false)
    }

    /// Every secret value this configuration knows, for ``SecretMasker``: each string that
    /// ``redactedDocument()`` hides (the `[secrets]` table and any key that looks secret, `${VAR}`
    /// expanded), and the provider keys ``secret(named:)`` finds in the environment
    /// (``ModelResolver/apiKeyNames``). A value that still holds an unresolved `${VAR}` is not a
    /// secret (as for ``secret(named:)``) and is left out. In no particular order; may repeat.
    public var secretValues: [String] {
        var values: [String] = []
        _ = Self.mapSecrets(expand(.object(document)), key: nil, underSecrets: false) { value in
            values.append(value)
            return .null
        }
        values += ModelResolver.apiKeyNames.compactMap(secret(named:))
        return values.filter { !$0.contains("${") }
    }

    static func redact(_ v: JSONValue, key: String?, underSecrets: Bool) -> JSONValue {
        mapSecrets(v, key: key, underSecrets: underSecrets) { _ in "********" }
    }

    /// `v` with every string that is a secret replaced by `transform`'s value: the strings of the
    /// `[secrets]` table, and any string under a key that looks secret (``isSecretKey(_:)``), at any
    /// depth. The one rule of what a secret is, for ``redactedDocument()`` and ``secretValues``.
    static func mapSecrets(
        _ v: JSONValue,
        key: String?,
        underSecrets: Bool,
        _ transform: (String) -> JSONValue
    ) -> JSONValue {
        // A table or array under a key that looks secret (`credentials = { primary = "…" }`,
        // `[auth.tokens]`) holds secrets whatever its own keys are called.
        let secretHere = underSecrets || (key.map(isSecretKey) ?? false)
        switch v {
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, child) in o {
                out[k] = mapSecrets(
                    child,
                    key: k,
                    underSecrets: secretHere || (key == nil && k == "secrets"),
                    transform
                )
            }
            return .object(out)
        case .array(let a):
            return .array(a.map { mapSecrets($0, key: key, underSecrets: secretHere, transform) })
        case .string(let s):
            return secretHere ? transform(s) : v
        default:
            return v
        }
    }

    /// Whether a key name looks like it holds a secret (`api_key`, `auth_token`, `password`, ...).
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return ["key", "token", "secret", "password", "passwd", "credential"].contains { k.contains($0) }
    }

    private func expand(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(Self.expandVariables(s, environment: environment))
        case .array(let a): return .array(a.map(expand))
        case .object(let o): return .object(o.mapValues(expand))
        default: return v
        }
    }

    /// Replaces each `${NAME}` whose variable is set; leaves the others as written.
    public static func expandVariables(_ s: String, environment: [String: String]) -> String {
        guard s.contains("${") else { return s }
        var out = ""
        var rest = Substring(s)
        while let open = rest.range(of: "${") {
            out += rest[rest.startIndex..<open.lowerBound]
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: "}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let name = String(after[after.startIndex..<close])
            if let value = environment[name], isVariableName(name) {
                out += value
            } else {
                out += rest[open.lowerBound...close]
            }
            rest = after[after.index(after: close)...]
        }
        out += rest
        return out
    }

    private static func isVariableName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0)
        }
    }

    // MARK: TOML conversion

    static func convert(_ table: TOMLTable) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for key in table.keys {
            if let v = table[key] { out[key] = convert(v) }
        }
        return out
    }

    static func convert(_ v: any TOMLValueConvertible) -> JSONValue {
        switch v.type {
        case .table: return v.table.map { .object(convert($0)) } ?? .null
        case .array: return .array(v.array.map { a in a.map { convert($0) } } ?? [])
        case .string: return .string(v.string ?? "")
        case .int: return .int(Int64(v.int ?? 0))
        case .double: return .double(v.double ?? 0)
        case .bool: return .bool(v.bool ?? false)
        case .date, .time, .dateTime: return .string(v.debugDescription)
        }
    }
}

extension SecretMasker {
    /// A masker for every secret value of `configuration` (``Configuration/secretValues``).
    public convenience init(configuration: Configuration) {
        self.init(secrets: configuration.secretValues)
    }
}

/// Why the configuration could not be read or changed.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case io, invalid, unknownKey }
        private let base: Base
        public static let io = Code(base: .io)
        public static let invalid = Code(base: .invalid)
        public static let unknownKey = Code(base: .unknownKey)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public static func io(_ message: String) -> ConfigurationError { .init(code: .io, message: message) }
    public static func invalid(_ message: String) -> ConfigurationError { .init(code: .invalid, message: message) }
    public static func unknownKey(_ message: String) -> ConfigurationError {
        .init(code: .unknownKey, message: message)
    }
}
