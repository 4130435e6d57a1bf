//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// Why a security operation failed: the device key, signing or verifying `LocalGPT.md`, the
/// audit log, a protected file, or a grant. The message is one line that says what to do; it
/// never contains the key, a MAC input or file contents.
public struct SecurityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure; cases can be added without breaking a `switch` elsewhere.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case deviceKeyMissing, deviceKeyInvalid, deviceKeyInsecure, policyMissing, policyUnreadable,
                policyInvalidEncoding, policyTooLarge, policyTampered, policySuspicious, manifestInvalid,
                protectedPath, auditLog, io
        }
        private let base: Base
        public var description: String { base.rawValue }

        /// There is no device key file.
        public static let deviceKeyMissing = Code(base: .deviceKeyMissing)
        /// The key file exists but is not 32 bytes, not a regular file, or cannot be read.
        public static let deviceKeyInvalid = Code(base: .deviceKeyInvalid)
        /// The key file is readable or writable by other users, or owned by someone else.
        public static let deviceKeyInsecure = Code(base: .deviceKeyInsecure)
        /// There is no `LocalGPT.md` to sign.
        public static let policyMissing = Code(base: .policyMissing)
        /// `LocalGPT.md` exists but cannot be read.
        public static let policyUnreadable = Code(base: .policyUnreadable)
        /// `LocalGPT.md` is not UTF-8 text.
        public static let policyInvalidEncoding = Code(base: .policyInvalidEncoding)
        /// `LocalGPT.md` is larger than ``PolicyVerifier/maxFileBytes``.
        public static let policyTooLarge = Code(base: .policyTooLarge)
        /// `LocalGPT.md` changed after it was signed (`security.strict_policy`).
        public static let policyTampered = Code(base: .policyTampered)
        /// `LocalGPT.md` holds an injection phrase (`security.strict_policy`).
        public static let policySuspicious = Code(base: .policySuspicious)
        /// The manifest cannot be written or is malformed.
        public static let manifestInvalid = Code(base: .manifestInvalid)
        /// A write to a protected file was refused.
        public static let protectedPath = Code(base: .protectedPath)
        /// The audit log cannot be read or appended to.
        public static let auditLog = Code(base: .auditLog)
        /// Another file operation failed.
        public static let io = Code(base: .io)
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The text of `errno` right now.
func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
