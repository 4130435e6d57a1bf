//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// A security-relevant event the host reports: a refused host-service call, a sandboxed command,
/// a plugin installed or removed. The audit log records them (hash-chained); until a recorder is
/// attached they go only to the agent log.
public struct SecurityEvent: Sendable, Equatable {
    /// `permission_denied`, `sandbox_exec`, `plugin_installed`, `plugin_removed`, ...
    public var action: String
    /// Who caused it: a plugin id, or `cli`.
    public var source: String
    /// Action-specific details. Never a secret, an argument list or a body.
    public var details: [String: JSONValue]

    public init(action: String, source: String, details: [String: JSONValue] = [:]) {
        self.action = action
        self.source = source
        self.details = details
    }
}

/// Receives ``SecurityEvent``s. Must be thread-safe and must not call back into the plugin host.
public protocol SecurityEventRecorder: Sendable {
    func record(_ event: SecurityEvent)
}
