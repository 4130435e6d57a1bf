//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// What an audit entry records. The reference's actions plus this project's plugin events; new
/// ones can be added without changing the file format.
public struct AuditAction: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    // The policy (LocalGPT.md) and its verification.
    public static let created: AuditAction = "created"
    public static let signed: AuditAction = "signed"
    public static let verified: AuditAction = "verified"
    public static let tamperDetected: AuditAction = "tamper_detected"
    public static let missing: AuditAction = "missing"
    public static let unsigned: AuditAction = "unsigned"
    public static let manifestCorrupted: AuditAction = "manifest_corrupted"
    public static let suspiciousContent: AuditAction = "suspicious_content"
    public static let invalidEncoding: AuditAction = "invalid_encoding"
    public static let policyUnreadable: AuditAction = "policy_unreadable"
    public static let deviceKeyInvalid: AuditAction = "device_key_invalid"
    public static let fileChanged: AuditAction = "file_changed"
    // Protected files and paths.
    public static let writeBlocked: AuditAction = "write_blocked"
    public static let pathDenied: AuditAction = "path_denied"
    // The log itself and sessions.
    public static let chainRecovery: AuditAction = "chain_recovery"
    public static let compaction: AuditAction = "compaction"
    // Plugins.
    public static let pluginInstalled: AuditAction = "plugin_installed"
    public static let pluginRemoved: AuditAction = "plugin_removed"
    public static let permissionDenied: AuditAction = "permission_denied"
    public static let sandboxExec: AuditAction = "sandbox_exec"
    public static let grantTampered: AuditAction = "grant_tampered"
}

/// One line of `~/.localgpt/.security_audit.jsonl`:
///
/// ```json
/// {"ts":"2026-05-02T10:11:12.345Z","action":"signed","source":"cli","sha256":"9f86…","details":{"bytes":120},"prev_hash":"0000…"}
/// ```
///
/// `prev_hash` is the SHA-256 (hex) of the previous line's exact bytes, without its newline; the
/// first line's is 64 zeros. `sha256` (a content hash) is present only when the event has one.
public struct AuditEntry: Sendable, Equatable {
    /// RFC 3339 UTC with milliseconds.
    public var timestamp: String
    public var action: AuditAction
    /// Who caused it: `cli`, `session_start`, `tool:write_file`, a plugin id, `audit_system`...
    public var source: String
    /// SHA-256 of the content concerned (LocalGPT.md), when there is one.
    public var contentSHA256: String?
    /// Action-specific details. Never a secret, a prompt or file contents.
    public var details: [String: JSONValue]
    /// SHA-256 of the previous line.
    public var previousHash: String

    public init(
        timestamp: String,
        action: AuditAction,
        source: String,
        contentSHA256: String? = nil,
        details: [String: JSONValue] = [:],
        previousHash: String
    ) {
        self.timestamp = timestamp
        self.action = action
        self.source = source
        self.contentSHA256 = contentSHA256
        self.details = details
        self.previousHash = previousHash
    }

    /// The line as written (no newline): keys in a fixed order, details with sorted keys.
    public var line: String {
        var out = "{\"ts\":"
        JSONValue.writeString(timestamp, to: &out)
        out += ",\"action\":"
        JSONValue.writeString(action.rawValue, to: &out)
        out += ",\"source\":"
        JSONValue.writeString(source, to: &out)
        if let contentSHA256 {
            out += ",\"sha256\":"
            JSONValue.writeString(contentSHA256, to: &out)
        }
        out += ",\"details\":" + JSONValue.object(details).encoded()
        out += ",\"prev_hash\":"
        JSONValue.writeString(previousHash, to: &out)
        return out + "}"
    }

    /// Whether a line (without its newline) is an intact entry as this writer writes them: valid
    /// JSON that starts with `{"ts":` and ends with `"prev_hash":"<64 hex>"}`. Allocates nothing;
    /// the append path uses it instead of ``init(line:)``.
    static func isIntactLine(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            let prefix: StaticString = "{\"ts\":\""
            let suffix: StaticString = "\"prev_hash\":\""
            let tail = suffix.utf8CodeUnitCount + 64 + 2  // "prev_hash":" + hex + "}
            guard b.count > prefix.utf8CodeUnitCount + tail else { return false }
            for k in 0..<prefix.utf8CodeUnitCount where b[k] != prefix.utf8Start[k] {
                return false
            }
            let s = b.count - tail
            for k in 0..<suffix.utf8CodeUnitCount where b[s + k] != suffix.utf8Start[k] {
                return false
            }
            let hex = s + suffix.utf8CodeUnitCount
            for k in hex..<(hex + 64) {
                let c = b[k]
                guard
                    (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                        || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
                else { return false }
            }
            guard b[b.count - 2] == UInt8(ascii: "\""), b[b.count - 1] == UInt8(ascii: "}") else { return false }
            return JSONSyntax.isValid(b)
        }
    }

    /// Parses one line (without its newline); nil when it is not valid JSON or not an entry.
    public init?(line bytes: some Collection<UInt8>) {
        guard bytes.first == UInt8(ascii: "{"), bytes.count < 1 << 20,
            let doc = try? JSONValue(parsing: Data(bytes)),
            let ts = doc["ts"]?.stringValue,
            let action = doc["action"]?.stringValue,
            let source = doc["source"]?.stringValue,
            let prev = doc["prev_hash"]?.stringValue, Hex.isHex(prev, count: 64)
        else { return nil }
        let details: [String: JSONValue]
        switch doc["details"] {
        case nil, .null?: details = [:]
        case .object(let o)?: details = o
        default: return nil
        }
        let sha: String?
        switch doc["sha256"] {
        case nil, .null?: sha = nil
        case .string(let s)?: sha = s
        default: return nil
        }
        self.init(
            timestamp: ts,
            action: AuditAction(rawValue: action),
            source: source,
            contentSHA256: sha,
            details: details,
            previousHash: prev
        )
    }
}
