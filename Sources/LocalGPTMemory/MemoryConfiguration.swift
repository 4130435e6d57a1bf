//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// Where the memory lives and how it is indexed: the `[memory]` section of config.toml.
public struct MemoryConfiguration: Sendable, Equatable {
    /// The workspace folder (absolute).
    public var workspace: String
    /// The SQLite index file.
    public var indexPath: String
    /// How files are cut into chunks.
    public var chunker: Chunker
    /// Folders outside the workspace that are indexed too.
    public var extraRoots: [ExtraRoot]
    /// Which texts of a chunk are embedded.
    public var embeddingPlan: EmbeddingPlan
    /// Whether chunks get embeddings when a local model is installed.
    public var embeddingsEnabled: Bool
    /// Files larger than this are skipped by the indexer (and reported).
    public var maxFileBytes: Int
    /// About this many new vectors (windows, ~1 s of the local model for the default 64) are
    /// computed before a search answers, newest chunks first; the rest is left to
    /// `memory reindex` or the daemon, and the search notes it.
    public var searchEmbedBudget: Int
    /// How keyword and vector candidates are fused, and the floor below which results are left out.
    public var ranking: RankingOptions
    /// Settings that were ignored and why (`memory.paths` entries that name no folder, a relative
    /// `LOCALGPT_WORKSPACE`), for the commands to print: they used to be dropped in silence.
    public var warnings: [String] = []

    public init(
        workspace: String,
        indexPath: String,
        chunker: Chunker = Chunker(),
        extraRoots: [ExtraRoot] = [],
        embeddingPlan: EmbeddingPlan = EmbeddingPlan(),
        embeddingsEnabled: Bool = true,
        maxFileBytes: Int = 16 << 20,
        searchEmbedBudget: Int = 64,
        ranking: RankingOptions = RankingOptions()
    ) {
        self.workspace = Workspace.standardize(workspace)
        self.indexPath = indexPath
        self.chunker = chunker
        self.extraRoots = extraRoots
        self.embeddingPlan = embeddingPlan
        self.embeddingsEnabled = embeddingsEnabled
        self.maxFileBytes = maxFileBytes
        self.searchEmbedBudget = searchEmbedBudget
        self.ranking = ranking
    }

    /// Reads `[memory]` from config.toml.
    ///
    /// Keys (all optional):
    /// - `memory.workspace` (string): another workspace folder; `~` and relative-to-home accepted.
    /// - `memory.chunk_size` (int, 400; 16 to 1,048,576) and `memory.chunk_overlap` (int, 80; below the
    ///   chunk size): tokens of ~4 characters.
    /// - `memory.embeddings` (bool, true): embed chunks when the local model is installed.
    /// - `memory.paths` (array): extra roots, each `"dir"` or `{ path = "dir", pattern = "**/*.md" }`.
    /// - `memory.max_file_bytes` (int, 16 MiB): larger files are not indexed.
    /// - `memory.min_score` (number, 0.05, clamped to 0...1): hybrid results whose fused score is
    ///   lower are left out; 0 keeps them all.
    ///
    /// The workspace is, in order: `workspaceOverride` (the `--workspace` flag), the absolute
    /// `LOCALGPT_WORKSPACE` environment variable, `memory.workspace`, then the home's `workspace/`.
    /// The default workspace's index is `<home>/memory/main.sqlite`; any other workspace gets its
    /// own `<home>/memory/workspace-<hash>.sqlite`.
    public init(
        paths: LocalGPTPaths,
        configuration: Configuration,
        environment: [String: String] = ProcessEnvironment.current,
        workspaceOverride: String? = nil
    ) {
        var warnings: [String] = []
        if let w = environment["LOCALGPT_WORKSPACE"], !w.isEmpty, !w.hasPrefix("/"), workspaceOverride == nil {
            warnings.append("LOCALGPT_WORKSPACE=\(w) is not an absolute path: ignored")
        }
        // The flag, else the host's one workspace (LOCALGPT_WORKSPACE, memory.workspace, the home's).
        var workspace = paths.resolvingWorkspace(configuration: configuration, environment: environment).workspace
        if let w = workspaceOverride, !w.isEmpty { workspace = LocalGPTPaths.absolutePath(w) }
        workspace = Workspace.standardize(workspace)
        let defaultWorkspace = Workspace.standardize(paths.defaultWorkspace)
        let indexName =
            workspace == defaultWorkspace ? "main.sqlite" : "workspace-\(sha256Hex(workspace).prefix(16)).sqlite"
        // Numbers of the wrong type, or outside their range, are said, not silently replaced.
        func integer(_ key: String, _ fallback: Int, _ range: ClosedRange<Int64>) -> Int {
            guard let value = configuration.value(at: "memory." + key) else { return fallback }
            guard let i = value.intValue else {
                warnings.append("memory.\(key) must be a whole number: ignored (using \(fallback))")
                return fallback
            }
            let clamped = min(max(i, range.lowerBound), range.upperBound)
            if clamped != i {
                warnings.append(
                    "memory.\(key) = \(i) is outside \(range.lowerBound)...\(range.upperBound): using \(clamped)"
                )
            }
            return Int(clamped)
        }
        let size = integer("chunk_size", 400, 16...Int64(Chunker.maxChunkTokens))
        var overlap = integer("chunk_overlap", 80, 0...Int64(Chunker.maxChunkTokens))
        if overlap >= size {
            // (The default, 80, below a small chunk_size set by the user, shrinks without a word.)
            if configuration.value(at: "memory.chunk_overlap") != nil {
                warnings.append(
                    "memory.chunk_overlap = \(overlap) is not below memory.chunk_size = \(size): using \(size - 1)"
                )
            }
            overlap = size - 1
        }
        var maxFileBytes = integer("max_file_bytes", 16 << 20, Int64.min...(1 << 40))
        if maxFileBytes < 1 {
            // Clamped to 1 it would leave every file out of the index.
            warnings.append("memory.max_file_bytes = \(maxFileBytes) is not a size: ignored (using \(16 << 20))")
            maxFileBytes = 16 << 20
        }
        var roots: [ExtraRoot] = []
        let listed = configuration.value(at: "memory.paths")
        if let listed, listed.arrayValue == nil {
            warnings.append("memory.paths must be a list of folders, e.g. [\"~/notes\"]: ignored")
        }
        for (i, item) in (listed?.arrayValue ?? []).enumerated() {
            if let p = item.stringValue, p.isEmpty {
                warnings.append("memory.paths[\(i)] is an empty path: ignored")
            } else if let p = item.stringValue {
                roots.append(ExtraRoot(path: LocalGPTPaths.absolutePath(p, relativeTo: workspace)))
            } else if let p = item["path"]?.stringValue, !p.isEmpty,
                item["pattern"] == nil || item["pattern"]?.stringValue?.isEmpty == false
            {
                roots.append(
                    ExtraRoot(
                        path: LocalGPTPaths.absolutePath(p, relativeTo: workspace),
                        pattern: item["pattern"]?.stringValue ?? "**/*.md"
                    )
                )
            } else {
                warnings.append(
                    "memory.paths[\(i)] must be a folder (\"dir\") or { path = \"dir\", pattern = \"**/*.md\" }: ignored"
                )
            }
        }
        var ranking = RankingOptions()
        if let value = configuration.value(at: "memory.min_score") {
            if let floor = value.doubleValue, floor.isFinite {
                ranking.minimumScore = min(1, max(0, floor))
                if ranking.minimumScore != floor {
                    warnings.append("memory.min_score = \(floor) is outside 0...1: using \(ranking.minimumScore)")
                }
            } else {
                warnings.append("memory.min_score must be a number from 0 to 1: ignored")
            }
        }
        let embeddings = configuration.value(at: "memory.embeddings")
        if let embeddings, embeddings.boolValue == nil {
            warnings.append("memory.embeddings must be true or false: ignored")
        }
        self.init(
            workspace: workspace,
            indexPath: paths.home + "/memory/" + indexName,
            chunker: Chunker(chunkTokens: size, overlapTokens: overlap),
            extraRoots: roots,
            embeddingsEnabled: embeddings?.boolValue ?? true,
            maxFileBytes: maxFileBytes,
            ranking: ranking
        )
        self.warnings = warnings
    }
}
