//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// What the user allowed a plugin to do when installing it.
public struct PluginGrant: Sendable, Equatable {
    /// Whether a grant can be trusted.
    public enum Integrity: Sendable, Equatable {
        /// Built in memory by the caller, which vouches for it (not read from grants.json).
        case inMemory
        /// Read from grants.json and its MAC (device key) matched.
        case verified
        /// Read from grants.json and refused: not signed, signed with another key, edited by hand,
        /// or malformed. The plugin must not load.
        case invalid(String)
    }

    public var permissions: PluginPermissions
    /// ISO 8601 time of the grant.
    public var grantedAt: String
    /// The sha256 of the library the user approved.
    public var librarySHA256: String
    /// Set by ``PluginGrantStore/load()``; ``Integrity/inMemory`` for grants built in code.
    public var integrity: Integrity
    /// The MAC as stored in grants.json (hex), when it was read from there.
    public internal(set) var mac: String?

    public init(
        permissions: PluginPermissions,
        grantedAt: String,
        librarySHA256: String,
        integrity: Integrity = .inMemory
    ) {
        self.permissions = permissions
        self.grantedAt = grantedAt
        self.librarySHA256 = librarySHA256
        self.integrity = integrity
    }

    /// The bytes the MAC covers: a canonical JSON encoding (sorted keys, no spaces) of the plugin
    /// id and every field, so a grant cannot be edited or moved to another plugin unnoticed.
    func signedBytes(id: String) -> [UInt8] {
        let doc: JSONValue = [
            "v": 1,
            "id": .string(id),
            "permissions": permissions.json,
            "granted_at": .string(grantedAt),
            "library_sha256": .string(librarySHA256),
        ]
        return Array(doc.encoded().utf8)
    }
}

/// The grants file (`~/.localgpt/grants.json`): plugin id -> grant, each with an HMAC-SHA256 by a
/// key derived from the device key. Written atomically, mode 0600.
///
/// ```json
/// {"grants": {"org.example.x": {"granted_at": "…", "library_sha256": "…", "mac": "…64 hex…",
///   "permissions": {…}}}, "version": 1}
/// ```
public struct PluginGrantStore: Sendable {
    public var path: String
    /// The device key, or why it cannot be used (every grant is then ``PluginGrant/Integrity/invalid(_:)``).
    public var key: Result<DeviceKey, SecurityError>

    public init(path: String, key: Result<DeviceKey, SecurityError>) {
        self.path = path
        self.key = key
    }

    public init(path: String, key: DeviceKey) {
        self.init(path: path, key: .success(key))
    }

    /// All grants, each verified: a grant whose MAC does not match (or that has none, or is
    /// malformed) is returned with ``PluginGrant/Integrity/invalid(_:)`` and no permissions. A
    /// missing file means none.
    ///
    /// - Throws: ``PluginManifestError`` when the file exists but is not a grants document.
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
            let mac = g["mac"]?.stringValue
            var grant: PluginGrant
            do {
                grant = PluginGrant(
                    permissions: try PluginPermissions(json: g["permissions"] ?? .object([:]), path: "\(path): \(id)"),
                    grantedAt: g["granted_at"]?.stringValue ?? "",
                    librarySHA256: g["library_sha256"]?.stringValue ?? ""
                )
            } catch {
                grant = PluginGrant(permissions: .none, grantedAt: "", librarySHA256: "")
                grant.integrity = .invalid("it is malformed (\(error.message))")
                grant.mac = mac
                out[id] = grant
                continue
            }
            grant.mac = mac
            switch key {
            case .failure(let error):
                grant.integrity = .invalid("it cannot be verified: \(error.message)")
            case .success(let key):
                if let mac {
                    grant.integrity =
                        key.isValidGrantAuthenticationCode(mac, for: grant.signedBytes(id: id))
                        ? .verified
                        : .invalid(
                            "its signature does not match: grants.json was edited, or the device key changed since "
                                + "the plugin was installed"
                        )
                } else {
                    grant.integrity = .invalid("it is not signed (edited by hand or written by an older version)")
                }
            }
            out[id] = grant
        }
        return out
    }

    /// Records (or replaces) the grant for `id`, signed with the device key. Other grants are kept
    /// exactly as stored (never re-signed, so a tampered grant stays detectable). The read and the
    /// write hold the grants lock (``FileLock/path(guarding:)`` of grants.json), so two installs at
    /// once both keep their grant.
    ///
    /// - Throws: ``SecurityError`` when there is no usable device key; ``PluginManifestError`` or
    ///   ``ConfigurationError`` when the file cannot be read or written.
    public func set(_ grant: PluginGrant, for id: String) throws {
        let key = try key.get()
        var signed = grant
        signed.mac = key.grantAuthenticationCode(for: grant.signedBytes(id: id))
        signed.integrity = .verified
        try put(signed, for: id)
    }

    /// Removes the grant for `id` (under the grants lock, as ``set(_:for:)``).
    ///
    /// - Throws: ``PluginManifestError`` or ``ConfigurationError`` when the file cannot be read or written.
    public func remove(_ id: String) throws {
        try put(nil, for: id)
    }

    /// Stores `grant` for `id` exactly as given, its `mac` included (nil: removes it): how a grant
    /// read before a failed install is put back.
    func put(_ grant: PluginGrant?, for id: String) throws {
        func failure(_ message: String) -> any Error { ConfigurationError.io(message) }
        try FileLock.withExclusive(FileLock.path(guarding: path), failure: failure) {
            var all = try load()
            guard all[id] != grant else { return }
            all[id] = grant
            try save(all)
        }
    }

    private func save(_ all: [String: PluginGrant]) throws(ConfigurationError) {
        var grants: [String: JSONValue] = [:]
        for (id, g) in all {
            var entry: [String: JSONValue] = [
                "permissions": g.permissions.json,
                "granted_at": .string(g.grantedAt),
                "library_sha256": .string(g.librarySHA256),
            ]
            if let mac = g.mac { entry["mac"] = .string(mac) }
            grants[id] = .object(entry)
        }
        let doc: JSONValue = .object(["version": 1, "grants": .object(grants)])
        try FileSystem.writeAtomically(Data((doc.encoded(pretty: true) + "\n").utf8), to: path)
    }
}
