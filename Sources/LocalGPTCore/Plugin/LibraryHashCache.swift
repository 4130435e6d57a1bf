//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Crypto
import Foundation
import Glibc
import Synchronization

/// Remembers the sha256 of plugin libraries by file identity, so a library that has not changed
/// since it was last hashed is not read again at every start (hashing is the largest part of
/// loading a Swift plugin: about 1 µs per KB, 0.26 ms for a 260 KB library).
///
/// An entry holds the library's path, device, inode, size, modification and status-change times
/// (nanoseconds) and its sha256, signed with a key derived from the device key. It is used only
/// when every field matches the file as opened now and the signature verifies. Any write to the
/// file, a rename over it, `chmod` or `touch` changes its status-change time (which no
/// unprivileged call can set back), so a changed library is always hashed again; an edited cache
/// file fails its signature and is ignored. Without a usable device key there is no cache, and
/// every load hashes.
///
/// The file (`~/.localgpt/plugin-hashes.json`, mode 0600) is rewritten atomically by ``save()``
/// when something was added; two processes saving at once lose at most entries, which cost a
/// rehash. Thread-safe.
///
/// ```json
/// {"version": 1, "libraries": {"/path/lib.so": {"dev": 2049, "ino": 131, "size": 258856,
///   "mtime_ns": 1763…, "ctime_ns": 1763…, "sha256": "…", "mac": "…"}}}
/// ```
public final class LibraryHashCache: Sendable {
    /// What identifies one version of a file.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedNanoseconds: Int64
        var changedNanoseconds: Int64

        init(_ s: stat) {
            device = UInt64(s.st_dev)
            inode = UInt64(s.st_ino)
            size = Int64(s.st_size)
            modifiedNanoseconds = Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec)
            changedNanoseconds = Int64(s.st_ctim.tv_sec) * 1_000_000_000 + Int64(s.st_ctim.tv_nsec)
        }

        init?(json: JSONValue) {
            guard let d = json["dev"]?.intValue, let i = json["ino"]?.intValue, let s = json["size"]?.intValue,
                let m = json["mtime_ns"]?.intValue, let c = json["ctime_ns"]?.intValue
            else { return nil }
            device = UInt64(bitPattern: d)
            inode = UInt64(bitPattern: i)
            size = s
            modifiedNanoseconds = m
            changedNanoseconds = c
        }
    }

    private struct Entry {
        var identity: Identity
        var sha256: String
        var mac: String
    }

    private struct State {
        var entries: [String: Entry]? = nil
        var dirty = false
        var filesHashed = 0
    }

    /// How many files this cache has read and hashed (the others came from the cache).
    public var filesHashed: Int { state.withLock { $0.filesHashed } }

    public let path: String
    private let key: SymmetricKey
    private let state = Mutex(State())

    /// - Parameters:
    ///   - path: the cache file.
    ///   - deviceKey: signs and verifies the entries.
    public init(path: String, deviceKey: DeviceKey) {
        self.path = path
        self.key = deviceKey.libraryHashKey
    }

    /// The sha256 of the file at `path` as lower-case hex, from the cache when the file is the
    /// one that was hashed, else read and hashed now (and remembered). Nil when the file cannot be
    /// read.
    public func sha256(ofFile file: String) -> String? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0 else { return nil }
        let identity = Identity(before)
        if let entry = entries()[file], entry.identity == identity,
            isValid(entry.mac, for: signedBytes(file, identity, entry.sha256))
        {
            return entry.sha256
        }
        guard let sha = sha256Hex(ofDescriptor: fd) else { return nil }
        state.withLock { $0.filesHashed += 1 }
        var after = stat()
        // Remember it only when the file did not change while it was read.
        if fstat(fd, &after) == 0, Identity(after) == identity {
            let entry = Entry(
                identity: identity,
                sha256: sha,
                mac: Hex.encode(HMAC<SHA256>.authenticationCode(for: signedBytes(file, identity, sha), using: key))
            )
            state.withLock {
                $0.entries?[file] = entry
                $0.dirty = true
            }
        }
        return sha
    }

    /// Writes the cache when entries were added since it was read. Failures are ignored: the
    /// cache only saves work.
    public func save() {
        let doc: JSONValue? = state.withLock { s in
            guard s.dirty, let entries = s.entries else { return nil }
            s.dirty = false
            var libraries: [String: JSONValue] = [:]
            for (file, e) in entries {
                libraries[file] = [
                    "dev": .int(Int64(bitPattern: e.identity.device)),
                    "ino": .int(Int64(bitPattern: e.identity.inode)),
                    "size": .int(e.identity.size),
                    "mtime_ns": .int(e.identity.modifiedNanoseconds),
                    "ctime_ns": .int(e.identity.changedNanoseconds),
                    "sha256": .string(e.sha256),
                    "mac": .string(e.mac),
                ]
            }
            return ["version": 1, "libraries": .object(libraries)]
        }
        guard let doc else { return }
        try? FileSystem.writeAtomically(Data(doc.encoded(pretty: false).utf8), to: path, mode: 0o600)
    }

    /// The entries, read from the file on first use. Entries are checked when used, not here.
    private func entries() -> [String: Entry] {
        if let loaded = state.withLock({ $0.entries }) { return loaded }
        var read: [String: Entry] = [:]
        if let data = FileSystem.readFile(path), let doc = try? JSONValue(parsing: data),
            let libraries = doc["libraries"]?.objectValue
        {
            for (file, value) in libraries {
                guard let identity = Identity(json: value), let sha = value["sha256"]?.stringValue,
                    let mac = value["mac"]?.stringValue
                else { continue }
                read[file] = Entry(identity: identity, sha256: sha, mac: mac)
            }
        }
        return state.withLock { s in
            if s.entries == nil { s.entries = read }
            return s.entries!
        }
    }

    private func signedBytes(_ file: String, _ id: Identity, _ sha: String) -> [UInt8] {
        Array(
            "localgpt library hash v1\0\(file)\0\(id.device)\0\(id.inode)\0\(id.size)\0\(id.modifiedNanoseconds)\0\(id.changedNanoseconds)\0\(sha)"
                .utf8
        )
    }

    private func isValid(_ hex: String, for bytes: [UInt8]) -> Bool {
        guard hex.utf8.count == 64, let mac = Hex.decode(hex) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: bytes, using: key)
    }
}
