//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// What a plugin declares about itself: embedded in the library as `manifest_json` and repeated
/// in the sidecar `plugin.json` next to it (plus the library's sha256). docs/PLUGIN-ABI.md
/// documents every field.
public struct PluginManifest: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        case provider, tool, skill
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        /// The `LGPT_KIND_*` bit.
        public var bit: UInt32 {
            switch self {
            case .provider: return 0x1
            case .tool: return 0x2
            case .skill: return 0x4
            }
        }
    }

    public struct Tool: Sendable, Equatable {
        public var name: String
        public var description: String
        /// The JSON Schema of the arguments object.
        public var parameters: JSONValue
        /// "none", "read", "write", "network" or "exec".
        public var sideEffects: String
        public var timeoutMilliseconds: Int?
    }

    public struct Provider: Sendable, Equatable {
        public var name: String
        public var modelPrefixes: [String]
        public var capabilities: [String]
    }

    public struct Skill: Sendable, Equatable {
        public var name: String
        public var description: String
        public var instructions: String?
    }

    public var id: String
    public var name: String
    public var version: String
    public var description: String
    public var publisher: String?
    public var abiMajor: Int
    public var abiMinor: Int
    public var kinds: Set<Kind>
    /// `"serial"` asks the host never to overlap two calls into the plugin.
    public var isSerial: Bool
    public var tools: [Tool]
    public var providers: [Provider]
    public var skills: [Skill]
    /// What the plugin asks to be allowed to do.
    public var permissions: PluginPermissions
    /// The document as written, minus the sidecar-only `binary` member.
    public var json: JSONValue

    /// The `LGPT_KIND_*` bits of ``kinds``.
    public var kindBits: UInt32 { kinds.reduce(0) { $0 | $1.bit } }

    /// Parses and checks a manifest document.
    ///
    /// - Throws: ``PluginManifestError`` naming the first field that is missing or wrong.
    public init(json document: JSONValue) throws(PluginManifestError) {
        guard case .object(var o) = document else { throw .init("the manifest must be a JSON object") }
        o.removeValue(forKey: "binary")
        json = .object(o)
        let r = Reader(object: o, path: "")

        id = try r.string("id")
        guard Self.isValidID(id) else {
            throw .init("id \"\(id)\" must be reverse-DNS: lower-case segments of a-z, 0-9, '-' joined by '.'")
        }
        name = try r.optionalString("name") ?? id
        version = try r.string("version")
        guard Self.isValidVersion(version) else {
            throw .init("version \"\(version)\" must be a semantic version such as 1.2.0")
        }
        description = try r.optionalString("description") ?? ""
        publisher = try r.optionalString("publisher")

        let abi = try r.object("abi")
        let ar = Reader(object: abi, path: "abi.")
        abiMajor = try ar.int("major")
        abiMinor = try ar.optionalInt("minor") ?? 0

        var kinds: Set<Kind> = []
        for k in try r.stringArray("kinds") {
            guard let kind = Kind(rawValue: k) else {
                throw .init("kinds: unknown kind \"\(k)\" (expected provider, tool or skill)")
            }
            kinds.insert(kind)
        }
        guard !kinds.isEmpty else { throw .init("kinds must name at least one of provider, tool, skill") }
        self.kinds = kinds

        switch try r.optionalString("concurrency") ?? "parallel" {
        case "parallel": isSerial = false
        case "serial": isSerial = true
        case let other: throw .init("concurrency \"\(other)\" must be \"parallel\" or \"serial\"")
        }

        var tools: [Tool] = []
        var toolNames: Set<String> = []
        for (i, t) in try r.objectArray("tools").enumerated() {
            let tr = Reader(object: t, path: "tools[\(i)].")
            let name = try tr.string("name")
            guard Self.isValidToolName(name) else {
                throw .init("tools[\(i)].name \"\(name)\" must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'")
            }
            guard toolNames.insert(name).inserted else { throw .init("tools: \"\(name)\" is declared twice") }
            let parameters = t["parameters"] ?? .object(["type": "object", "properties": .object([:])])
            guard case .object(let schema) = parameters else {
                throw .init("tools[\(i)].parameters must be a JSON Schema object")
            }
            // The host passes a tool's arguments as a JSON object, and the model APIs accept only
            // object schemas for tools: a "string" schema would break every chat that offers the tool.
            guard schema["type"] == "object" else {
                throw .init(
                    "tools[\(i)].parameters must describe an object ({\"type\": \"object\", \"properties\": {...}}): "
                        + "a tool's arguments are a JSON object"
                )
            }
            let sideEffects = try tr.optionalString("side_effects") ?? "none"
            guard ["none", "read", "write", "network", "exec"].contains(sideEffects) else {
                throw .init("tools[\(i)].side_effects \"\(sideEffects)\" must be none, read, write, network or exec")
            }
            tools.append(
                Tool(
                    name: name,
                    description: try tr.optionalString("description") ?? "",
                    parameters: parameters,
                    sideEffects: sideEffects,
                    timeoutMilliseconds: try tr.optionalInt("timeout_ms")
                )
            )
        }
        self.tools = tools

        var providers: [Provider] = []
        for (i, p) in try r.objectArray("providers").enumerated() {
            let pr = Reader(object: p, path: "providers[\(i)].")
            providers.append(
                Provider(
                    name: try pr.string("name"),
                    modelPrefixes: try pr.stringArray("model_prefixes"),
                    capabilities: try pr.stringArray("capabilities")
                )
            )
        }
        self.providers = providers

        var skills: [Skill] = []
        for (i, s) in try r.objectArray("skills").enumerated() {
            let sr = Reader(object: s, path: "skills[\(i)].")
            skills.append(
                Skill(
                    name: try sr.string("name"),
                    description: try sr.optionalString("description") ?? "",
                    instructions: try sr.optionalString("instructions")
                )
            )
        }
        self.skills = skills

        if kinds.contains(.tool) && tools.isEmpty { throw .init("kinds has \"tool\" but tools is empty") }
        if !kinds.contains(.tool) && !tools.isEmpty { throw .init("tools are declared but kinds lacks \"tool\"") }
        if kinds.contains(.provider) && providers.isEmpty {
            throw .init("kinds has \"provider\" but providers is empty")
        }
        if !kinds.contains(.provider) && !providers.isEmpty {
            throw .init("providers are declared but kinds lacks \"provider\"")
        }

        permissions = try PluginPermissions(json: o["permissions"] ?? .object([:]), path: "permissions")
    }

    /// Parses a manifest from JSON text.
    ///
    /// - Throws: ``PluginManifestError`` when the text is not JSON or the manifest is wrong.
    public init(text: String) throws(PluginManifestError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw .init("\(error)")
        }
        try self.init(json: value)
    }

    static func isValidID(_ id: String) -> Bool {
        let segments = id.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 2, id.utf8.count <= 128 else { return false }
        return segments.allSatisfy { seg in
            guard let f = seg.unicodeScalars.first, ("a"..."z").contains(f) else { return false }
            return seg.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }

    static func isValidToolName(_ n: String) -> Bool {
        (1...64).contains(n.utf8.count)
            && n.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
            }
    }

    static func isValidVersion(_ v: String) -> Bool {
        let core = v.split(separator: "-", maxSplits: 1)[0].split(separator: "+", maxSplits: 1)[0]
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}

/// A field-by-field reader that names the path of whatever is wrong.
struct Reader {
    var object: [String: JSONValue]
    var path: String

    func string(_ key: String) throws(PluginManifestError) -> String {
        guard let v = object[key] else { throw .init("missing \(path)\(key)") }
        guard case .string(let s) = v, !s.isEmpty else {
            throw .init("\(path)\(key) must be a non-empty string, got \(v.typeName)")
        }
        return s
    }

    func optionalString(_ key: String) throws(PluginManifestError) -> String? {
        guard let v = object[key], v != .null else { return nil }
        guard case .string(let s) = v else { throw .init("\(path)\(key) must be a string, got \(v.typeName)") }
        return s
    }

    func int(_ key: String) throws(PluginManifestError) -> Int {
        guard let v = object[key] else { throw .init("missing \(path)\(key)") }
        guard let i = v.intValue, let n = Int(exactly: i) else {
            throw .init("\(path)\(key) must be an integer, got \(v.typeName)")
        }
        return n
    }

    func optionalInt(_ key: String) throws(PluginManifestError) -> Int? {
        guard let v = object[key], v != .null else { return nil }
        return try int(key)
    }

    func object(_ key: String) throws(PluginManifestError) -> [String: JSONValue] {
        guard let v = object[key] else { throw .init("missing \(path)\(key)") }
        guard case .object(let o) = v else { throw .init("\(path)\(key) must be an object, got \(v.typeName)") }
        return o
    }

    func stringArray(_ key: String) throws(PluginManifestError) -> [String] {
        guard let v = object[key], v != .null else { return [] }
        guard case .array(let a) = v else { throw .init("\(path)\(key) must be an array, got \(v.typeName)") }
        var out: [String] = []
        for (i, e) in a.enumerated() {
            guard case .string(let s) = e else {
                throw .init("\(path)\(key)[\(i)] must be a string, got \(e.typeName)")
            }
            out.append(s)
        }
        return out
    }

    func objectArray(_ key: String) throws(PluginManifestError) -> [[String: JSONValue]] {
        guard let v = object[key], v != .null else { return [] }
        guard case .array(let a) = v else { throw .init("\(path)\(key) must be an array, got \(v.typeName)") }
        var out: [[String: JSONValue]] = []
        for (i, e) in a.enumerated() {
            guard case .object(let o) = e else {
                throw .init("\(path)\(key)[\(i)] must be an object, got \(e.typeName)")
            }
            out.append(o)
        }
        return out
    }
}

/// A manifest that is malformed or inconsistent.
public struct PluginManifestError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
