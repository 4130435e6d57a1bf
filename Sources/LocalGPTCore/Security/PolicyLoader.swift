//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Logging

/// What every agent start (CLI, daemon, server, heartbeat) calls: verifies `LocalGPT.md`,
/// records the outcome in the audit log (source `session_start`), and applies
/// `security.strict_policy`. The agent injects ``PolicyVerification/policy`` (only present when
/// verified) at the end of each request.
public struct PolicyLoader: Sendable {
    public var verifier: PolicyVerifier
    /// `security.strict_policy`.
    public var isStrict: Bool
    public var audit: AuditLog?
    /// The audit source: `session_start`, or `cli` for `md verify`.
    public var source: String
    public var logger: Logger

    public init(verifier: PolicyVerifier, isStrict: Bool, audit: AuditLog?, source: String, logger: Logger) {
        self.verifier = verifier
        self.isStrict = isStrict
        self.audit = audit
        self.source = source
        self.logger = logger
    }

    /// The loader for a LocalGPT home, with `security.strict_policy` from `configuration`.
    public init(
        paths: LocalGPTPaths,
        configuration: Configuration,
        audit: AuditLog?,
        source: String = "session_start",
        logger: Logger
    ) {
        self.init(
            verifier: PolicyVerifier(paths: paths),
            isStrict: configuration.strictPolicy,
            audit: audit,
            source: source,
            logger: logger
        )
    }

    /// Verifies, audits, and returns the outcome. A policy that is not verified is never
    /// returned for injection (fail closed); the agent still runs with its built-in rules.
    ///
    /// - Throws: ``SecurityError`` (``SecurityError/Code/policyTampered`` or
    ///   ``SecurityError/Code/policySuspicious``) only in strict mode, with a message that says how
    ///   to re-sign. The audit entry is written first.
    public func load() throws(SecurityError) -> PolicyVerification {
        let result = verifier.verify()
        record(result)
        switch result.status {
        case .valid, .missing:
            logger.debug("LocalGPT.md: \(result.label)")
        case .oversize:
            logger.info("\(result.explanation)")
        default:
            logger.warning("LocalGPT.md: \(result.label): \(result.explanation)")
        }
        guard isStrict && result.isFatalInStrictMode else { return result }
        switch result.status {
        case .suspicious(let m):
            throw SecurityError(
                .policySuspicious,
                "Security policy rejected (strict_policy): LocalGPT.md contains \"\(m.excerpt)\" (\(m.phrase), line "
                    + "\(m.line)). Remove it and re-sign with `localgpt md sign`, or remove LocalGPT.md."
            )
        default:
            throw SecurityError(
                .policyTampered,
                "Security policy tamper detected (strict_policy): \(result.explanation) Re-sign with "
                    + "`localgpt md sign` or remove LocalGPT.md."
            )
        }
    }

    private func record(_ result: PolicyVerification) {
        guard let audit else { return }
        var details: [String: JSONValue] = ["status": .string(result.label)]
        if let n = result.byteCount { details["bytes"] = .int(Int64(n)) }
        switch result.status {
        case .unreadable(let why), .manifestCorrupted(let why), .tampered(let why):
            details["reason"] = .string(why)
        case .deviceKeyInvalid(let error):
            details["reason"] = .string(error.code.description)
        case .invalidEncoding(let offset):
            details["byte_offset"] = .int(Int64(offset))
        case .suspicious:
            details["phrases"] = .array(result.suspiciousMatches.map { .string($0.phrase) })
            details["line"] = .int(Int64(result.suspiciousMatches.first?.line ?? 0))
        case .oversize(let characters, let limit):
            details["characters"] = .int(Int64(characters))
            details["truncated_to"] = .int(Int64(limit))
        case .valid:
            details["characters"] = .int(Int64(result.policy?.characterCount ?? 0))
        case .missing, .unsigned:
            break
        }
        if let m = result.manifest { details["signed_at"] = .string(m.signedAt) }
        do {
            try audit.append(result.auditAction, source: source, contentSHA256: result.contentSHA256, details: details)
        } catch {
            logger.error("audit log append failed: \(error.message)")
        }
    }
}
