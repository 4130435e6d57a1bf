//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Logging

/// Records the plugin host's ``SecurityEvent``s (`permission_denied`, `sandbox_exec`,
/// `grant_tampered`, ...) in the audit log. An append that fails is logged, never thrown: the
/// host's call path must not fail because the log cannot be written.
public struct AuditRecorder: SecurityEventRecorder {
    public let log: AuditLog
    public let logger: Logger

    public init(log: AuditLog, logger: Logger) {
        self.log = log
        self.logger = logger
    }

    public func record(_ event: SecurityEvent) {
        do {
            try log.append(AuditAction(rawValue: event.action), source: event.source, details: event.details)
        } catch {
            logger.error(
                "audit log append failed: \(error.message)",
                metadata: ["audit.action": "\(event.action)", "audit.source": "\(event.source)"]
            )
        }
    }
}
