//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

extension LocalGPTPaths {
    /// The user's standing instructions: `workspace/LocalGPT.md`.
    public var policyFile: String { workspace + "/LocalGPT.md" }
    /// Its signature: `workspace/.localgpt_manifest.json`.
    public var policyManifest: String { workspace + "/.localgpt_manifest.json" }
    /// The assistant's identity file, write-protected like the policy: `workspace/IDENTITY.md`.
    public var identityFile: String { workspace + "/IDENTITY.md" }
}

extension Configuration {
    /// `security.strict_policy`: when true, a tampered or suspicious `LocalGPT.md` stops the agent
    /// from starting instead of only being left out. Default false.
    ///
    /// A value that is not a TOML boolean (`"true"`, `1`) is read as true: a security switch fails
    /// closed, and ``strictPolicyIsMistyped`` lets the CLI say so.
    public var strictPolicy: Bool {
        guard let value = value(at: "security.strict_policy") else { return false }
        return value.boolValue ?? true
    }

    /// Whether `security.strict_policy` is set to something other than `true` or `false`.
    public var strictPolicyIsMistyped: Bool {
        value(at: "security.strict_policy").map { $0.boolValue == nil } ?? false
    }
}

/// `workspace/.localgpt_manifest.json`: the signature of `LocalGPT.md`.
///
/// ```json
/// {
///   "content_sha256": "…64 hex…",
///   "hmac_sha256": "…64 hex…",
///   "signed_at": "2026-05-02T10:11:12Z",
///   "signed_by": "cli",
///   "version": 1
/// }
/// ```
public struct PolicyManifest: Sendable, Equatable {
    /// The only manifest version.
    public static let version = 1
    /// Manifests larger than this are corrupted, not read.
    static let maxBytes = 64 << 10

    /// SHA-256 of the exact bytes of `LocalGPT.md`, lower-case hex.
    public var contentSHA256: String
    /// HMAC-SHA256 of the same bytes with the device key, lower-case hex.
    public var hmacSHA256: String
    /// When it was signed, RFC 3339 UTC.
    public var signedAt: String
    /// Who signed: `cli` for `localgpt md sign`.
    public var signedBy: String

    public init(contentSHA256: String, hmacSHA256: String, signedAt: String, signedBy: String) {
        self.contentSHA256 = contentSHA256
        self.hmacSHA256 = hmacSHA256
        self.signedAt = signedAt
        self.signedBy = signedBy
    }

    /// Parses a manifest.
    ///
    /// - Throws: ``SecurityError`` (``SecurityError/Code/manifestInvalid``) naming what is wrong.
    public init(data: [UInt8]) throws(SecurityError) {
        let doc: JSONValue
        do {
            doc = try JSONValue(parsing: Data(data))
        } catch {
            throw SecurityError(.manifestInvalid, "not valid JSON")
        }
        guard case .object = doc else { throw SecurityError(.manifestInvalid, "not a JSON object") }
        guard doc["version"]?.intValue == Int64(Self.version) else {
            throw SecurityError(.manifestInvalid, "version must be \(Self.version)")
        }
        guard let sha = doc["content_sha256"]?.stringValue, Hex.isHex(sha, count: 64) else {
            throw SecurityError(.manifestInvalid, "content_sha256 must be 64 hex digits")
        }
        guard let mac = doc["hmac_sha256"]?.stringValue, Hex.isHex(mac, count: 64) else {
            throw SecurityError(.manifestInvalid, "hmac_sha256 must be 64 hex digits")
        }
        guard let at = doc["signed_at"]?.stringValue, !at.isEmpty else {
            throw SecurityError(.manifestInvalid, "signed_at is missing")
        }
        contentSHA256 = sha.lowercased()
        hmacSHA256 = mac.lowercased()
        signedAt = at
        signedBy = doc["signed_by"]?.stringValue ?? "unknown"
    }

    /// The manifest as written: pretty JSON, sorted keys, a final newline.
    public var encoded: String {
        let doc: JSONValue = [
            "version": .int(Int64(Self.version)),
            "content_sha256": .string(contentSHA256),
            "hmac_sha256": .string(hmacSHA256),
            "signed_at": .string(signedAt),
            "signed_by": .string(signedBy),
        ]
        return doc.encoded(pretty: true) + "\n"
    }
}
