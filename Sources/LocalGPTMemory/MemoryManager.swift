//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import Foundation
public import Logging
import Synchronization

/// The memory of one workspace: its files, its index and (when a model is installed) its
/// embedder. Everything the CLI, the tools and the plugin host do with memory goes through here.
///
/// Searches first bring the index up to date with the files, cheaply: one `stat` per file, and
/// only changed files are read. Text written a moment ago is therefore always findable by keyword;
/// its vectors are computed before the search answers when there are few of them
/// (`searchEmbedBudget`), else in the background or by `memory reindex`.
///
/// Thread-safe. Blocking: call from a thread that may block.
public final class MemoryManager: Sendable {
    public let configuration: MemoryConfiguration
    public let workspace: Workspace
    public let index: MemoryIndex
    /// The embedder, or nil when no local model is installed or embeddings are disabled.
    public let embedder: (any TextEmbedder)?
    /// Why there is no embedder (for the one-line notice), when there is none.
    public let embedderUnavailableReason: String?
    let logger: Logger
    private let refreshLock = Mutex(())
    private let background = DispatchQueue(label: "localgpt.memory.embedding", qos: .utility)
    private let backgroundState = Mutex(BackgroundState())

    private struct BackgroundState {
        var scheduled = false
        var lastError: String?
    }

    /// Opens the workspace (creating it from templates when needed, with `bootstrap`) and its
    /// index.
    ///
    /// The index opens on a helper thread while the caller goes on (a search first looks at the
    /// workspace's files); an index that cannot be opened fails the first operation that needs it.
    ///
    /// - Parameters:
    ///   - configuration: where the workspace and index are, how to chunk.
    ///   - embedder: the local embedder, or nil for keyword-only memory.
    ///   - embedderUnavailableReason: shown once per search when `embedder` is nil.
    ///   - logger: receives counts and timings, never memory contents (default: label
    ///     `localgpt.memory` on the application's logging backend).
    ///   - bootstrap: create the workspace and its template files when missing (false for a
    ///     folder used as it is: one the user points at with `--workspace`, a read-only corpus
    ///     such as the benchmark's; `save` and `log` still create the files they write to).
    ///   - connections: `.single` for a command that runs once and exits (cheaper to open);
    ///     `.pool` (the default) lets searches go on while the index is written.
    /// - Throws: ``MemoryError`` when the workspace cannot be created or the index's folder
    ///   cannot be made.
    public init(
        configuration: MemoryConfiguration,
        embedder: (any TextEmbedder)?,
        embedderUnavailableReason: String? = nil,
        logger: Logger = Logger(label: "localgpt.memory"),
        bootstrap: Bool = true,
        connections: MemoryIndex.Connections = .pool
    ) throws(MemoryError) {
        self.configuration = configuration
        self.workspace = Workspace(root: configuration.workspace)
        self.embedder = configuration.embeddingsEnabled ? embedder : nil
        self.embedderUnavailableReason =
            configuration.embeddingsEnabled
            ? (embedder == nil ? embedderUnavailableReason ?? "no local embedding model is installed" : nil)
            : "embeddings are disabled (memory.embeddings = false)"
        self.logger = logger
        if bootstrap {
            do {
                try workspace.bootstrap()
            } catch  where FileInfo.isDirectory(workspace.root) {
                // A workspace that exists but cannot take the template files (a read-only file
                // system, a full disk) is still searched: the index lives elsewhere.
                logger.warning(
                    "memory: the workspace's template files were not created",
                    metadata: ["error": "\(error.message)"]
                )
            }
        }
        // Opened on a helper thread: a search looks at the workspace's files meanwhile.
        self.index = try MemoryIndex(
            path: configuration.indexPath,
            chunker: configuration.chunker,
            embeddingPlan: configuration.embeddingPlan,
            connections: connections,
            openInBackground: true
        )
    }

    var scanner: WorkspaceScanner {
        WorkspaceScanner(workspace: workspace, extraRoots: configuration.extraRoots)
    }

    // MARK: Indexing

    /// Brings the index up to date with the files on disk. Unchanged files cost one `stat` each.
    ///
    /// - Parameters:
    ///   - force: replace every row (atomically), as after a model or chunker change.
    ///   - embedLimit: compute at most this many missing vectors now (nil: all, 0: none).
    ///   - progress: called from the indexing thread.
    /// - Returns: what was indexed, removed, skipped and embedded.
    /// - Throws: ``MemoryError`` when the index cannot be written or the embedder fails.
    @discardableResult
    public func reindex(
        force: Bool = false,
        embedLimit: Int? = nil,
        progress: (@Sendable (ReindexProgress) -> Void)? = nil
    ) throws(MemoryError) -> ReindexReport {
        try refreshLock.withLock { _ throws(MemoryError) -> ReindexReport in
            let started = DispatchTime.now().uptimeNanoseconds
            var report: ReindexReport
            do throws(MemoryError) {
                report = try update(force: force, embedLimit: embedLimit, progress: progress)
            } catch  where error.isIndexDamage {
                // Damage the opening did not see (a page written over, a bad sector): the index
                // holds nothing the workspace does not, so it is moved aside and rebuilt.
                let aside = try replaceDamagedIndex(error)
                report = try update(force: true, embedLimit: embedLimit, progress: progress)
                report.damagedIndexReplaced = true
                report.damagedIndexMovedTo = aside
            }
            if let aside = index.takeDamageFoundAtOpening() {
                // Not an SQLite database (a damaged first page...): moved aside when opened.
                report.damagedIndexReplaced = true
                report.damagedIndexMovedTo = aside
            }
            // The whole run: the scan and the vectors computed after the rows, too.
            report.durationSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            logger.debug(
                "memory reindex",
                metadata: [
                    "memory.files": "\(report.filesScanned)", "memory.updated": "\(report.filesUpdated)",
                    "memory.hashed": "\(report.filesHashed)",
                    "memory.removed": "\(report.filesRemoved)", "memory.chunks": "\(report.chunksWritten)",
                    "memory.embedded": "\(report.embeddingsComputed)", "memory.seconds": "\(report.durationSeconds)",
                ]
            )
            return report
        }
    }

    /// Counts for `memory stats`, of the index as it stands: nothing is re-read from the workspace,
    /// unless the index was found damaged (when it was opened, or now while it is read). Then it
    /// has been moved aside, and it is rebuilt from the workspace first (keywords only; vectors come
    /// from the next search or `memory reindex`), so that the counts describe the files rather than
    /// an empty index.
    ///
    /// - Returns: the counts, and the report of that rebuild when there was one.
    /// - Throws: ``MemoryError`` when the index cannot be read or rebuilt.
    public func stats() throws(MemoryError) -> (stats: IndexStats, rebuild: ReindexReport?) {
        if index.hasUnreportedDamageFromOpening {
            let report = try reindex(embedLimit: 0)
            return (try index.stats(), report)
        }
        do throws(MemoryError) {
            return (try index.stats(), nil)
        } catch  where error.isIndexDamage {
            let report = try rebuildDamagedIndex(error, embedLimit: 0)
            return (try index.stats(), report)
        }
    }

    /// After `error` showed the index damaged in pages the last update did not read: moves it
    /// aside, rebuilds it from the workspace (computing at most `embedLimit` vectors) and says so
    /// in the report.
    private func rebuildDamagedIndex(_ error: MemoryError, embedLimit: Int?) throws(MemoryError) -> ReindexReport {
        let aside = try refreshLock.withLock { _ throws(MemoryError) in try replaceDamagedIndex(error) }
        var report = try reindex(embedLimit: embedLimit)
        report.damagedIndexReplaced = true
        report.damagedIndexMovedTo = aside
        return report
    }

    /// Moves the index aside after `error` showed it damaged and opens a new, empty one, which the
    /// next update rebuilds from the workspace (under `refreshLock`).
    ///
    /// - Returns: where the damaged file went; nil when another process had replaced it.
    private func replaceDamagedIndex(_ error: MemoryError) throws(MemoryError) -> String? {
        let aside = try index.replaceDamagedFile()
        logger.warning(
            "memory: the index was damaged; rebuilding it",
            metadata: ["error": "\(error.message)", "memory.movedTo": "\(aside ?? "-")"]
        )
        return aside
    }

    /// One update of the index and, within `embedLimit`, its missing vectors (under `refreshLock`).
    private func update(
        force: Bool,
        embedLimit: Int?,
        progress: (@Sendable (ReindexProgress) -> Void)?
    ) throws(MemoryError) -> ReindexReport {
        var problems: [ScanProblem] = []
        let files = scanner.scan(problems: &problems)
        var report = try index.update(
            files: files,
            scanProblems: problems,
            force: force,
            embedder: embedder,
            // A bounded run (a search) embeds within its budget, after the rows are written,
            // even when the index is new or rebuilt.
            precompute: embedLimit == nil,
            maxFileBytes: configuration.maxFileBytes,
            progress: progress
        )
        if let embedder, report.pendingEmbeddings > 0, embedLimit != 0 {
            let done = try index.embedPending(embedder: embedder, limit: embedLimit, progress: progress)
            report.embeddingsComputed += done.computed
            report.embeddingsFromCache += done.fromCache
            report.pendingEmbeddings = try index.pendingEmbeddingCount(model: embedder.modelID)
        }
        return report
    }

    /// Computes missing vectors on a background queue (one run at a time); returns at once.
    public func embedPendingInBackground() {
        guard let embedder else { return }
        let alreadyScheduled = backgroundState.withLock { s -> Bool in
            if s.scheduled { return true }
            s.scheduled = true
            return false
        }
        if alreadyScheduled { return }
        background.async { [self] in
            var failure: String?
            do throws(MemoryError) {
                try index.embedPending(embedder: embedder)
            } catch {
                failure = error.message
                logger.warning("memory: background embedding failed", metadata: ["error": "\(error.message)"])
            }
            backgroundState.withLock {
                $0.scheduled = false
                $0.lastError = failure
            }
        }
    }

    /// Waits until background embedding scheduled so far has finished (for tests and shutdown).
    public func waitForBackgroundWork() {
        background.sync {}
    }

    // MARK: Searching

    /// The end of the notice that some chunks have no vectors yet (after their count).
    private static let pendingNoticeSuffix = " chunks have no vectors yet (run `localgpt memory reindex`)"

    /// Searches the memory.
    ///
    /// - Parameters:
    ///   - query: natural language or keywords; at most the first 32 keywords are used.
    ///   - limit: how many results (1...100).
    ///   - mode: nil picks hybrid. Without a query vector (no model installed, embeddings
    ///     disabled, a query the model cannot read) hybrid ranks by keywords, scored 0...1 and
    ///     with the named days' preference, and vector becomes keyword; `notice` says so.
    ///   - refresh: bring the index up to date first (stat-based; cheap when nothing changed).
    ///     When that fails (a full disk, a read-only index, the model), the search answers from
    ///     the index as it is, with a notice.
    ///   - ranking: fusion parameters; nil takes the configuration's (`memory.min_score` and the
    ///     measured best fusion).
    /// - Returns: the results, best first, the mode used and any notice.
    /// - Throws: ``MemoryError`` (`invalidArgument` for an empty query or a bad limit).
    public func search(
        _ query: String,
        limit: Int = 5,
        mode: SearchMode? = nil,
        refresh: Bool = true,
        ranking: RankingOptions? = nil
    ) throws(MemoryError) -> MemorySearchResponse {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { throw .invalidArgument("the query is empty") }
        if trimmed.utf8.contains(0) { throw .invalidArgument("the query contains a NUL byte") }
        guard (1...100).contains(limit) else { throw .invalidArgument("limit must be between 1 and 100") }
        let started = DispatchTime.now().uptimeNanoseconds
        var notices: [String] = []
        if refresh {
            let budget = embedder == nil ? 0 : configuration.searchEmbedBudget
            do {
                let report = try reindex(embedLimit: budget)
                if report.damagedIndexReplaced {
                    notices.append("the memory index was damaged; it has been rebuilt from the workspace")
                }
                if report.pendingEmbeddings > 0 {
                    notices.append("\(report.pendingEmbeddings)" + Self.pendingNoticeSuffix)
                }
            } catch {
                // The index as it stands still answers: a full disk, a read-only index or a
                // failing model must not take search away (an unreadable index fails below).
                logger.warning("memory search: the index could not be updated", metadata: ["error": "\(error.message)"])
                notices.append("the index could not be updated, results may miss recent changes: \(error.message)")
            }
        }
        var wanted = mode ?? .hybrid
        var vector: [Float]?
        if wanted != .keyword {
            if let embedder {
                do {
                    vector = try MemoryIndex.embed([String(trimmed.prefix(4000))], embedder: embedder).first
                } catch {
                    notices.append("keyword search only: \(error.message)")
                }
                if let v = vector, !v.contains(where: { $0 != 0 }) {
                    // The zero vector: no word of the query is known to the model (emoji, unknown
                    // characters), so its meaning cannot be compared.
                    notices.append("keyword search only: the embedding model knows no word of the query")
                    vector = nil
                }
            } else {
                notices.append("keyword search only: \(embedderUnavailableReason ?? "no embedding model")")
            }
            // Without a query vector a vector search becomes a keyword search; a hybrid search
            // stays hybrid: it ranks by keywords as a keyword search does (scored 0...1), and
            // still favours the logs of the days the query names, which keyword mode does not.
            if vector == nil, wanted == .vector { wanted = .keyword }
        }
        let searchIndex = { [index, vector, wanted] () throws(MemoryError) -> [MemorySearchResult] in
            try index.search(
                trimmed,
                queryVector: vector,
                model: self.embedder?.modelID,
                mode: wanted,
                limit: limit,
                ranking: ranking ?? self.configuration.ranking
            )
        }
        let results: [MemorySearchResult]
        do throws(MemoryError) {
            results = try searchIndex()
        } catch  where error.isIndexDamage {
            // Damage in pages the update did not read: rebuild (as reindex does), then answer.
            let budget = embedder == nil ? 0 : configuration.searchEmbedBudget
            let report = try rebuildDamagedIndex(error, embedLimit: budget)
            notices.append("the memory index was damaged; it has been rebuilt from the workspace")
            notices.removeAll { $0.hasSuffix(Self.pendingNoticeSuffix) }  // the count before the rebuild
            if report.pendingEmbeddings > 0, wanted != .keyword {
                notices.append("\(report.pendingEmbeddings)" + Self.pendingNoticeSuffix)
            }
            results = try searchIndex()
        }
        // What a search found, for diagnosing "memory finds nothing" (never the query: it is the
        // user's text).
        logger.debug(
            "memory search",
            metadata: [
                "memory.mode": "\(wanted.rawValue)", "memory.results": "\(results.count)",
                "memory.best": "\(results.first.map { "\($0.score)" } ?? "none")",
                "memory.ms": "\(Double((DispatchTime.now().uptimeNanoseconds - started) / 10_000) / 100)",
            ]
        )
        return MemorySearchResponse(
            results: results,
            mode: wanted,
            notice: notices.isEmpty ? nil : notices.joined(separator: "; ")
        )
    }
}
