//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting

/// A temporary LocalGPT home for the security tests: workspace, key, policy helpers.
struct SecurityHome {
    let paths: LocalGPTPaths

    init() throws {
        paths = LocalGPTPaths(home: TestSupport.makeTemporaryDirectory("lgpt-sec"))
        try paths.createDirectories()
    }

    var audit: AuditLog { AuditLog(paths: paths, durability: .noSync) }

    func key() throws -> DeviceKey { try DeviceKey.loadOrCreate(at: paths.deviceKey).key }

    func writePolicy(_ text: String) throws { try writePolicy(Array(text.utf8)) }

    func writePolicy(_ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: paths.policyFile))
    }

    func policyBytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: paths.policyFile))) }

    @discardableResult
    func sign() throws -> SignedPolicy { try PolicySigner(paths: paths).sign(with: try key()) }

    func verify() -> PolicyVerification { PolicyVerifier(paths: paths).verify() }

    /// Writes a manifest by hand: the right hash and MAC of `bytes` (for content `md sign` refuses).
    func writeManifest(for bytes: [UInt8]) throws {
        let manifest = PolicyManifest(
            contentSHA256: sha256(bytes),
            hmacSHA256: try key().authenticationCode(for: bytes),
            signedAt: "2026-01-01T00:00:00Z",
            signedBy: "test"
        )
        try manifest.encoded.write(toFile: paths.policyManifest, atomically: true, encoding: .utf8)
    }

    func auditLines() throws -> [String] {
        guard let text = try? String(contentsOfFile: paths.auditLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    func auditEntries() throws -> [AuditEntry] {
        try audit.read().lines.compactMap(\.entry)
    }
}

/// SHA-256 hex through the same public helper the plugin code uses.
func sha256(_ bytes: [UInt8]) -> String {
    let dir = TestSupport.makeTemporaryDirectory("lgpt-sha")
    let file = dir + "/f"
    _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
    return sha256Hex(ofFile: file) ?? ""
}

func fileMode(_ path: String) -> mode_t {
    var info = stat()
    stat(path, &info)
    return info.st_mode & 0o7777
}
