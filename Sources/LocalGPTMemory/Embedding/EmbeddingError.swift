//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Why a local embedding model could not be loaded or run. The message names the file and the cause; it
/// never contains the texts being embedded.
public struct EmbeddingError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notInstalled, invalidModel, invalidVocabulary, io, outOfMemory, invalidInput
        }
        private let base: Base

        /// The model directory or one of its files is missing (`scripts/install-models.sh` installs them).
        public static let notInstalled = Code(base: .notInstalled)
        /// The weights file is not a usable safetensors BERT encoder (truncated, corrupt, wrong tensors).
        public static let invalidModel = Code(base: .invalidModel)
        /// `vocab.txt` is unreadable as a WordPiece vocabulary (not UTF-8, empty, special tokens missing).
        public static let invalidVocabulary = Code(base: .invalidVocabulary)
        /// A file exists but cannot be read or mapped.
        public static let io = Code(base: .io)
        /// Memory for the weights or the forward pass could not be allocated.
        public static let outOfMemory = Code(base: .outOfMemory)
        /// The forward pass refused its input (a bug in the caller: ids out of range, bad lengths).
        public static let invalidInput = Code(base: .invalidInput)

        public var description: String {
            switch base {
            case .notInstalled: "not installed"
            case .invalidModel: "invalid model"
            case .invalidVocabulary: "invalid vocabulary"
            case .io: "I/O error"
            case .outOfMemory: "out of memory"
            case .invalidInput: "invalid input"
            }
        }
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}
