//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Why a plugin was not loaded. Its description is one line naming the file and what to fix.
public struct PluginLoadError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case sidecar, manifest, libraryMissing, checksum, dlopen, missingEntry, refusedABI, abiMismatch,
                structTooSmall, manifestMismatch, duplicateID, createFailed, disabled, incompleteDescriptor
        }
        private let base: Base
        public var description: String { base.rawValue }
        /// plugin.json is missing or unreadable.
        public static let sidecar = Code(base: .sidecar)
        /// The manifest is malformed or inconsistent.
        public static let manifest = Code(base: .manifest)
        public static let libraryMissing = Code(base: .libraryMissing)
        /// The library's sha256 differs from plugin.json.
        public static let checksum = Code(base: .checksum)
        public static let dlopen = Code(base: .dlopen)
        public static let missingEntry = Code(base: .missingEntry)
        /// The entry function returned NULL for this host's ABI.
        public static let refusedABI = Code(base: .refusedABI)
        /// The ABI major differs.
        public static let abiMismatch = Code(base: .abiMismatch)
        public static let structTooSmall = Code(base: .structTooSmall)
        /// A descriptor field that must be set (`id`, `version`, `manifest_json`, `create`) is NULL.
        public static let incompleteDescriptor = Code(base: .incompleteDescriptor)
        /// The embedded manifest differs from plugin.json.
        public static let manifestMismatch = Code(base: .manifestMismatch)
        public static let duplicateID = Code(base: .duplicateID)
        public static let createFailed = Code(base: .createFailed)
        /// Listed in `plugins.disabled`.
        public static let disabled = Code(base: .disabled)
    }

    public var code: Code
    /// The file the error is about (plugin.json or the library).
    public var file: String
    public var message: String

    public init(_ code: Code, file: String, _ message: String) {
        self.code = code
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
