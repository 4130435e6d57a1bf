//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// What a plugin may do through the host. A manifest declares a set; the user grants a set at
/// install; the plugin gets their intersection, checked at every host-service call.
public struct PluginPermissions: Sendable, Equatable {
    /// Command names (no paths) the plugin may run through `exec`. `"bash"` also allows the
    /// `{"shell": ...}` form.
    public var execCommands: Set<String>
    /// Network destinations for `http`: `"host"` (ports 80 and 443), `"host:port"`, `"host:*"` (every
    /// port of that host), or `"*.domain"` for every subdomain.
    public var netHosts: Set<String>
    /// Filesystem paths the sandbox may open for the plugin's processes (used by the sandbox).
    public var fsRead: Set<String>
    public var fsWrite: Set<String>
    public var memorySearch: Bool
    public var memoryAppend: Bool
    /// Secret names the plugin may read with `secret_get`.
    public var secrets: Set<String>
    /// Config keys the plugin may read with `config_get`; a table name covers its members.
    public var config: Set<String>

    public init(
        execCommands: Set<String> = [],
        netHosts: Set<String> = [],
        fsRead: Set<String> = [],
        fsWrite: Set<String> = [],
        memorySearch: Bool = false,
        memoryAppend: Bool = false,
        secrets: Set<String> = [],
        config: Set<String> = []
    ) {
        self.execCommands = execCommands
        self.netHosts = netHosts
        self.fsRead = fsRead
        self.fsWrite = fsWrite
        self.memorySearch = memorySearch
        self.memoryAppend = memoryAppend
        self.secrets = secrets
        self.config = config
    }

    /// No permission at all.
    public static let none = PluginPermissions()

    /// Parses the `permissions` member of a manifest or a grant.
    ///
    /// - Throws: ``PluginManifestError`` naming the malformed field.
    public init(json: JSONValue, path: String = "permissions") throws(PluginManifestError) {
        guard case .object(let o) = json else { throw .init("\(path) must be an object") }
        let known: Set<String> = ["exec", "net", "fs", "memory", "secrets", "config"]
        if let unknown = o.keys.first(where: { !known.contains($0) }) {
            throw .init("\(path).\(unknown) is not a permission (expected exec, net, fs, memory, secrets, config)")
        }
        let r = Reader(object: o, path: path + ".")
        let exec = o["exec"] == nil ? [:] : try r.object("exec")
        let net = o["net"] == nil ? [:] : try r.object("net")
        let fs = o["fs"] == nil ? [:] : try r.object("fs")
        let memory = o["memory"] == nil ? [:] : try r.object("memory")
        execCommands = Set(try Reader(object: exec, path: path + ".exec.").stringArray("commands"))
        for c in execCommands where c.isEmpty || c.contains("/") {
            throw .init("\(path).exec.commands: \"\(c)\" must be a bare command name, not a path")
        }
        netHosts = Set(try Reader(object: net, path: path + ".net.").stringArray("hosts").map { $0.lowercased() })
        for h in netHosts where !Self.isValidHostPattern(h) {
            throw .init("\(path).net.hosts: \"\(h)\" must be host, host:port, host:* or *.domain")
        }
        let fr = Reader(object: fs, path: path + ".fs.")
        fsRead = Set(try fr.stringArray("read"))
        fsWrite = Set(try fr.stringArray("write"))
        memorySearch = memory["search"]?.boolValue ?? false
        memoryAppend = memory["append"]?.boolValue ?? false
        secrets = Set(try r.stringArray("secrets"))
        config = Set(try r.stringArray("config"))
    }

    /// The permissions as a manifest's `permissions` member.
    public var json: JSONValue {
        .object([
            "exec": .object(["commands": .array(execCommands.sorted().map(JSONValue.string))]),
            "net": .object(["hosts": .array(netHosts.sorted().map(JSONValue.string))]),
            "fs": .object([
                "read": .array(fsRead.sorted().map(JSONValue.string)),
                "write": .array(fsWrite.sorted().map(JSONValue.string)),
            ]),
            "memory": .object(["search": .bool(memorySearch), "append": .bool(memoryAppend)]),
            "secrets": .array(secrets.sorted().map(JSONValue.string)),
            "config": .array(config.sorted().map(JSONValue.string)),
        ])
    }

    /// What both allow.
    public func intersection(_ other: PluginPermissions) -> PluginPermissions {
        PluginPermissions(
            execCommands: execCommands.intersection(other.execCommands),
            netHosts: netHosts.intersection(other.netHosts),
            fsRead: fsRead.intersection(other.fsRead),
            fsWrite: fsWrite.intersection(other.fsWrite),
            memorySearch: memorySearch && other.memorySearch,
            memoryAppend: memoryAppend && other.memoryAppend,
            secrets: secrets.intersection(other.secrets),
            config: config.intersection(other.config)
        )
    }

    public var isEmpty: Bool { self == .none }

    /// One line per kind of access, for `plugin install` and `plugin info`.
    public var summary: [String] {
        var lines: [String] = []
        if !execCommands.isEmpty { lines.append("run commands: " + execCommands.sorted().joined(separator: ", ")) }
        if !netHosts.isEmpty { lines.append("connect to: " + netHosts.sorted().joined(separator: ", ")) }
        if !fsRead.isEmpty { lines.append("read files: " + fsRead.sorted().joined(separator: ", ")) }
        if !fsWrite.isEmpty { lines.append("write files: " + fsWrite.sorted().joined(separator: ", ")) }
        if memorySearch { lines.append("search memory") }
        if memoryAppend { lines.append("append to memory") }
        if !secrets.isEmpty { lines.append("read secrets: " + secrets.sorted().joined(separator: ", ")) }
        if !config.isEmpty { lines.append("read config: " + config.sorted().joined(separator: ", ")) }
        return lines
    }

    // MARK: Checks

    public func allowsExec(_ command: String) -> Bool { execCommands.contains(command) }

    public func allowsSecret(_ name: String) -> Bool { secrets.contains(name) }

    /// A key is allowed when it, or a table that contains it, is granted.
    public func allowsConfig(_ key: String) -> Bool {
        if config.contains(key) { return true }
        var k = Substring(key)
        while let dot = k.lastIndex(of: ".") {
            k = k[..<dot]
            if config.contains(String(k)) { return true }
        }
        return false
    }

    /// Whether `host:port` is granted. A bare host pattern covers ports 80 and 443.
    public func allowsHTTP(host: String, port: Int) -> Bool {
        let h = host.lowercased()
        for pattern in netHosts {
            var hostPattern = Substring(pattern)
            var patternPort: Int? = nil
            if let colon = pattern.lastIndex(of: ":"), !pattern.hasPrefix("[") || pattern.contains("]:") {
                hostPattern = pattern[..<colon]
                // "host:*" grants every port of that host (loopback model servers choose theirs at run time).
                let portText = pattern[pattern.index(after: colon)...]
                patternPort = portText == "*" ? port : Int(portText)
            }
            if hostPattern.hasPrefix("[") && hostPattern.hasSuffix("]") {
                hostPattern = hostPattern.dropFirst().dropLast()
            }
            let portOK = patternPort.map { $0 == port } ?? (port == 80 || port == 443)
            guard portOK else { continue }
            if hostPattern.hasPrefix("*.") {
                let suffix = hostPattern.dropFirst(1)
                if h.hasSuffix(suffix) && h.count > suffix.count { return true }
            } else if h == hostPattern {
                return true
            }
        }
        return false
    }

    static func isValidHostPattern(_ p: String) -> Bool {
        guard !p.isEmpty, !p.contains("/"), !p.contains("@"), !p.contains(" ") else { return false }
        if p.hasPrefix("[") { return p.contains("]") }
        let parts = p.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 {
            return !parts[0].isEmpty && (parts[1] == "*" || Int(parts[1]).map { (1...65535).contains($0) } == true)
        }
        return parts.count == 1
    }
}
