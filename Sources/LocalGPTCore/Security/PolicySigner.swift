//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// What `md sign` produced, with the warnings worth printing.
public struct SignedPolicy: Sendable, Equatable {
    public var manifest: PolicyManifest
    /// Bytes signed.
    public var byteCount: Int
    /// Characters (Unicode scalars) signed.
    public var characterCount: Int
    /// Injection phrases in the signed text: verification will reject it until they are removed.
    public var suspiciousMatches: [InjectionPatterns.Match]
    /// What the protected-file guard found, while recording the signed files, of commands whose
    /// LocalGPT process died mid-run (to be reported; see ``ProtectedFileGuard/commit(_:)``).
    public var recovery = ProtectedFileGuard.Recovery()
    /// Whether only the first ``PolicyVerifier/maxCharacters`` characters will be used.
    public var isOversize: Bool { characterCount > PolicyVerifier.maxCharacters }
}

/// Signs `LocalGPT.md`: SHA-256 and HMAC-SHA256 (device key) of its exact bytes, written to
/// `.localgpt_manifest.json` atomically.
public struct PolicySigner: Sendable {
    public var policyPath: String
    public var manifestPath: String
    /// The home's protected-file guard, told of the signed files so that a command running now
    /// does not undo the signature when it ends (``ProtectedFileGuard/commit(_:)``).
    public var protectedFiles: ProtectedFileGuard?

    public init(policyPath: String, manifestPath: String, protectedFiles: ProtectedFileGuard? = nil) {
        self.policyPath = policyPath
        self.manifestPath = manifestPath
        self.protectedFiles = protectedFiles
    }

    public init(paths: LocalGPTPaths) {
        self.init(
            policyPath: paths.policyFile,
            manifestPath: paths.policyManifest,
            protectedFiles: ProtectedFileGuard(paths: paths)
        )
    }

    /// Signs the file as it is now.
    ///
    /// - Parameters:
    ///   - key: the device key.
    ///   - signedBy: who signs (`cli`).
    /// - Returns: the manifest written, and warnings (suspicious phrases, oversize).
    /// - Throws: ``SecurityError``: ``SecurityError/Code/policyMissing``,
    ///   ``SecurityError/Code/policyUnreadable``, ``SecurityError/Code/policyTooLarge`` (more than
    ///   ``PolicyVerifier/maxFileBytes``), ``SecurityError/Code/policyInvalidEncoding`` (not UTF-8:
    ///   such a file could never be used), or ``SecurityError/Code/manifestInvalid`` when the
    ///   manifest cannot be written.
    public func sign(with key: DeviceKey, signedBy: String = "cli") throws(SecurityError) -> SignedPolicy {
        let bytes: [UInt8]
        switch FileIO.read(policyPath, limit: PolicyVerifier.maxFileBytes) {
        case .success(let contents): bytes = contents.bytes
        case .failure(.errno(ENOENT)):
            throw SecurityError(
                .policyMissing,
                "there is no \(policyPath) to sign: write your standing instructions there first"
            )
        case .failure(.errno(let e)):
            throw SecurityError(.policyUnreadable, "\(policyPath) cannot be read: \(errnoDescription(e))")
        case .failure(.notRegularFile):
            throw SecurityError(.policyUnreadable, "\(policyPath) is not a regular file")
        case .failure(.tooLarge(let n)):
            throw SecurityError(
                .policyTooLarge,
                "\(policyPath) is \(n) bytes; the limit is \(PolicyVerifier.maxFileBytes) bytes (and only the first "
                    + "\(PolicyVerifier.maxCharacters) characters are ever used): shorten it"
            )
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = UTF8Validation.firstInvalidOffset(bytes) ?? 0
            throw SecurityError(
                .policyInvalidEncoding,
                "\(policyPath) is not UTF-8 text (invalid byte at offset \(offset)); save it as UTF-8 and sign again"
            )
        }
        let manifest = PolicyManifest(
            contentSHA256: sha256Hex(bytes),
            hmacSHA256: key.authenticationCode(for: bytes),
            signedAt: Timestamp.now(milliseconds: false),
            signedBy: signedBy
        )
        do {
            try FileSystem.writeAtomically(Data(manifest.encoded.utf8), to: manifestPath, mode: 0o600)
        } catch {
            throw SecurityError(.manifestInvalid, error.message)  // "cannot write <manifest>: <reason>"
        }
        let recovery = protectedFiles?.commit([policyPath, manifestPath].map(HostFilePolicy.canonical))
        let filtered = InjectionPatterns.filterMarkers(text).text
        return SignedPolicy(
            manifest: manifest,
            byteCount: bytes.count,
            characterCount: UTF8Validation.scalarCount(bytes),
            suspiciousMatches: InjectionPatterns.suspiciousPhrases(in: filtered),
            recovery: recovery ?? ProtectedFileGuard.Recovery()
        )
    }
}
