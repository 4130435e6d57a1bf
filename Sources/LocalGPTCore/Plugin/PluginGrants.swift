//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// What the user allowed a plugin to do when installing it.
public struct PluginGrant: Sendable, Equatable {
    public var permissions: PluginPermissions
    /// ISO 8601 time of the grant.
    public var grantedAt: String
    /// The sha256 of the library the user approved.
    public var librarySHA256: String

    public init(permissions: PluginPermissions, grantedAt: String, librarySHA256: String) {
        self.permissions = permissions
        self.grantedAt = grantedAt
        self.librarySHA256 = librarySHA256
    }
}

/// The grants file (`~/.localgpt/grants.json`): plugin id -> grant. Written atomically, mode 0600.
public struct PluginGrantStore: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// All grants. A missing file means none.
    ///
    /// - Throws: ``PluginManifestError`` when the file exists but is malformed.
    public func load() throws(PluginManifestError) -> [String: PluginGrant] {
        guard let data = FileSystem.readFile(path) else { return [:] }
        let doc: JSONValue
        do {
            doc = try JSONValue(parsing: data)
        } catch {
            throw .init("\(path): \(error)")
        }
        guard let grants = doc["grants"]?.objectValue else {
            throw .init("\(path): expected {\"version\": 1, \"grants\": {...}}")
        }
        var out: [String: PluginGrant] = [:]
        for (id, g) in grants {
            let permissions = try PluginPermissions(json: g["permissions"] ?? .object([:]), path: "\(path): \(id)")
            out[id] = PluginGrant(
                permissions: permissions,
                grantedAt: g["granted_at"]?.stringValue ?? "",
                librarySHA256: g["library_sha256"]?.stringValue ?? ""
            )
        }
        return out
    }

    /// Records (or replaces) the grant for `id`.
    ///
    /// - Throws: ``PluginManifestError`` or ``ConfigurationError`` when the file cannot be read or written.
    public func set(_ grant: PluginGrant, for id: String) throws {
        var all = try load()
        all[id] = grant
        try save(all)
    }

    /// Removes the grant for `id`.
    ///
    /// - Throws: ``PluginManifestError`` or ``ConfigurationError`` when the file cannot be read or written.
    public func remove(_ id: String) throws {
        var all = try load()
        guard all.removeValue(forKey: id) != nil else { return }
        try save(all)
    }

    private func save(_ all: [String: PluginGrant]) throws(ConfigurationError) {
        var grants: [String: JSONValue] = [:]
        for (id, g) in all {
            grants[id] = .object([
                "permissions": g.permissions.json,
                "granted_at": .string(g.grantedAt),
                "library_sha256": .string(g.librarySHA256),
            ])
        }
        let doc: JSONValue = .object(["version": 1, "grants": .object(grants)])
        try FileSystem.writeAtomically(Data((doc.encoded(pretty: true) + "\n").utf8), to: path)
    }
}
