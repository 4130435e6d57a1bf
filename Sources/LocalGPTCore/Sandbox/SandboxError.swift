//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Why a sandbox policy could not be built or applied. Messages name the config key or the path at
/// fault, never a command or its arguments.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case invalidConfiguration
            case workspaceMissing
            case setupFailed
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// `[sandbox]` in config.toml holds a value of the wrong type or out of range, or an unknown
        /// level or network policy. The command is not run (a typo never turns the sandbox off).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The workspace folder does not exist or is not a folder.
        public static let workspaceMissing = Code(.workspaceMissing)
        /// Preparing a layer the kernel offers failed (the Landlock ruleset, the seccomp program, the
        /// private temporary folder, the pids cgroup). The command is not run.
        public static let setupFailed = Code(.setupFailed)

        public var description: String { kind.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalidConfiguration(_ message: String) -> SandboxError {
        SandboxError(code: .invalidConfiguration, message: message)
    }

    static func setupFailed(_ message: String) -> SandboxError {
        SandboxError(code: .setupFailed, message: message)
    }
}
