//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Crypto
import Foundation
import Glibc

/// The per-device secret: 32 random bytes in `~/.localgpt/.device_key`, mode 0600. It signs
/// `LocalGPT.md` (HMAC-SHA256 of the exact bytes) and, through a derived key, the plugin grants.
///
/// The key never leaves this type: its description is redacted, and no error message or log line
/// contains it.
public struct DeviceKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A device key is exactly this many bytes.
    public static let byteCount = 32

    private let key: SymmetricKey

    init(bytes: [UInt8]) {
        key = SymmetricKey(data: bytes)
    }

    /// The key that signs grants: HKDF-SHA256 of the device key with its own label, so a grant MAC
    /// can never be confused with a policy MAC.
    var grantKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key,
            info: Array("localgpt plugin grants v1".utf8),
            outputByteCount: 32
        )
    }

    /// The key that signs the library hash cache (``LibraryHashCache``), derived the same way.
    var libraryHashKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key,
            info: Array("localgpt library hash cache v1".utf8),
            outputByteCount: 32
        )
    }

    public var description: String { "DeviceKey(<redacted>)" }
    public var debugDescription: String { description }

    // MARK: MACs

    /// HMAC-SHA256 of `bytes` with the device key, as lower-case hex.
    public func authenticationCode(for bytes: [UInt8]) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
    }

    /// Whether `hex` is the HMAC-SHA256 of `bytes` with the device key (compared in constant time).
    public func isValidAuthenticationCode(_ hex: String, for bytes: [UInt8]) -> Bool {
        guard hex.utf8.count == 64, let mac = Hex.decode(hex) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: bytes, using: key)
    }

    /// HMAC-SHA256 of `bytes` with the grant key, as lower-case hex.
    func grantAuthenticationCode(for bytes: [UInt8]) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: bytes, using: grantKey))
    }

    /// Whether `hex` is the grant-key HMAC of `bytes` (constant time).
    func isValidGrantAuthenticationCode(_ hex: String, for bytes: [UInt8]) -> Bool {
        guard hex.utf8.count == 64, let mac = Hex.decode(hex) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: bytes, using: grantKey)
    }

    // MARK: Loading

    /// Reads the key at `path` and checks it: a regular file (not a symlink) owned by this user,
    /// not readable or writable by anyone else, exactly 32 bytes.
    ///
    /// - Throws: ``SecurityError`` with ``SecurityError/Code/deviceKeyMissing`` when there is no
    ///   file, ``SecurityError/Code/deviceKeyInsecure`` when other users could read it (the message
    ///   has the `chmod` that fixes it), or ``SecurityError/Code/deviceKeyInvalid`` for a wrong
    ///   length, a symlink or an unreadable file.
    public static func load(from path: String) throws(SecurityError) -> DeviceKey {
        let fd = FileIO.retrying { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else {
            let e = errno
            switch e {
            case ENOENT:
                throw SecurityError(
                    .deviceKeyMissing,
                    "no device key at \(path) (`localgpt init` or `localgpt md sign` creates one)"
                )
            case ELOOP:
                throw SecurityError(
                    .deviceKeyInvalid,
                    "device key \(path) is a symbolic link; it must be a regular file (remove the link and restore "
                        + "the key, or run `localgpt init` for a new one)"
                )
            default:
                throw SecurityError(.deviceKeyInvalid, "device key \(path) cannot be opened: \(errnoDescription(e))")
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SecurityError(.deviceKeyInvalid, "device key \(path) cannot be read: \(errnoDescription(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SecurityError(.deviceKeyInvalid, "device key \(path) is not a regular file")
        }
        if info.st_uid != geteuid() {
            throw SecurityError(
                .deviceKeyInsecure,
                "device key \(path) belongs to uid \(info.st_uid), not to you (uid \(geteuid())); it is refused "
                    + "until fixed: chown \(geteuid()) \(path)"
            )
        }
        if info.st_mode & 0o077 != 0 {
            throw SecurityError(
                .deviceKeyInsecure,
                "device key \(path) has mode \(FileIO.octal(info.st_mode)): other users can read or change it; it "
                    + "is refused until fixed: chmod 600 \(path)"
            )
        }
        guard Int(info.st_size) == byteCount else {
            throw SecurityError(
                .deviceKeyInvalid,
                "device key \(path) is \(info.st_size) bytes; a device key is exactly \(byteCount). It is damaged: "
                    + "restore it from a backup, or remove it and run `localgpt init` for a new one (then re-sign "
                    + "LocalGPT.md with `localgpt md sign` and reinstall your plugins)"
            )
        }
        var bytes: [UInt8]
        switch FileIO.readAll(fd, expected: byteCount, limit: byteCount) {
        case .success(let b): bytes = b
        case .failure:
            throw SecurityError(.deviceKeyInvalid, "device key \(path) cannot be read, or it changed while reading")
        }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        guard bytes.count == byteCount else {
            throw SecurityError(.deviceKeyInvalid, "device key \(path) changed size while it was read")
        }
        return DeviceKey(bytes: bytes)
    }

    /// The key at `path`, created first when there is none (32 bytes from the system's secure
    /// random generator, mode 0600). Creation is atomic: a temporary file is written, synced,
    /// then linked into place, so two processes never see a half-written key and never both win.
    ///
    /// - Returns: the key, and whether this call created it.
    /// - Throws: ``SecurityError`` when an existing key is refused (see ``load(from:)``) or the key
    ///   cannot be written.
    public static func loadOrCreate(at path: String) throws(SecurityError) -> (key: DeviceKey, created: Bool) {
        do throws(SecurityError) {
            return (try load(from: path), false)
        } catch  where error.code == .deviceKeyMissing {
            // Create it below.
        }
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileSystem.createDirectory(dir, mode: 0o700)
        } catch {
            throw SecurityError(.io, "cannot create \(dir) for the device key: \(error.message)")
        }
        let fresh = SymmetricKey(size: .bits256)
        var bytes = fresh.withUnsafeBytes { Array($0) }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        // Through a temporary file of this process, linked into place (never over another key); the
        // temporary file of a process killed meanwhile is removed by the next creation.
        let error = bytes.withUnsafeBytes { FileSystem.place($0, at: path, mode: 0o600, replacing: false) }
        if error == EEXIST {
            // Another process created it first: use theirs.
            return (try load(from: path), false)
        }
        guard error == 0 else {
            throw SecurityError(.io, "cannot create the device key \(path): \(errnoDescription(error))")
        }
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
        return (DeviceKey(bytes: bytes), true)
    }
}
