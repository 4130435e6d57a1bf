//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import Glibc
import LocalGPTCore
import LocalGPTMemory
import Logging

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Search and maintain the memory: the markdown workspace and its index.",
        discussion: """
            The workspace (~/.localgpt/workspace) holds MEMORY.md, daily logs in memory/YYYY-MM-DD.md and \
            any other markdown notes; the index makes them searchable by keywords and, when the local \
            model is installed, by meaning. Searches bring the index up to date first.
            --workspace DIR (or LOCALGPT_WORKSPACE=/abs/dir) points every command at another workspace.
            """,
        subcommands: [
            Search.self, Reindex.self, Stats.self, Recent.self, BenchLocomo.self, BenchPerf.self, BenchEmbed.self,
        ]
    )

    /// Options every memory command takes.
    struct Options: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Option(help: "Use this workspace (an existing folder, used as it is) instead of the configured one.")
        var workspace: String?

        func validate() throws {
            if let workspace, workspace.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ValidationError("--workspace needs a folder")
            }
        }
    }

    /// What a memory command works on.
    struct Context {
        let memory: MemoryManager
        let logger: Logger
        let cli: CLIContext
    }

    /// Opens the memory; loads the local embedder unless `keywordOnly`.
    static func open(_ options: Options, keywordOnly: Bool = false) throws -> Context {
        let ctx = try CLIContext.make(options.global)
        let config = MemoryConfiguration(
            paths: ctx.paths,
            configuration: ctx.configuration,
            workspaceOverride: options.workspace
        )
        for warning in config.warnings { printError("warning: \(warning)") }
        if options.workspace != nil {
            // A flag naming a missing folder is a typo more often than a new workspace: creating
            // it, with the template files, and answering "No results found." hid the mistake.
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: config.workspace, isDirectory: &isFolder) {
                throw CLIError(
                    "--workspace \(config.workspace): no such folder (create it first to start a workspace there)"
                )
            }
            if !isFolder.boolValue { throw CLIError("--workspace \(config.workspace) is not a folder") }
        }
        let (embedder, reason) =
            keywordOnly ? (nil, nil) : loadEmbedder(enabled: config.embeddingsEnabled, context: ctx)
        do {
            let memory = try MemoryManager(
                configuration: config,
                embedder: embedder,
                embedderUnavailableReason: reason,
                logger: ctx.logger,
                // The flag's folder is one the user has (a project, a notes folder): used as it
                // is, without the workspace templates. The configured one is made on first use.
                bootstrap: options.workspace == nil,
                connections: .single  // every memory command runs once and exits
            )
            return Context(memory: memory, logger: ctx.logger, cli: ctx)
        } catch {
            throw CLIError(error.message)
        }
    }

    /// The installed local embedder (in `local_model.models_dir`, `LOCALGPT_MODELS_DIR`...), or
    /// nil and why not.
    static func loadEmbedder(enabled: Bool, context: CLIContext) -> ((any TextEmbedder)?, String?) {
        guard enabled else { return (nil, "embeddings are disabled (memory.embeddings = false)") }
        let models = LocalModelManager.modelsDirectory(configuration: context.configuration, paths: context.paths)
        do {
            if let e = try MiniLMEmbedder.loadInstalled(modelsDirectory: models) { return (e, nil) }
            return (nil, MiniLMEmbedder.notInstalledNotice(modelsDirectory: models))
        } catch {
            return (nil, "semantic search is off: \(error)")
        }
    }

    // MARK: search

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "search",
            abstract: "Search the memory by keywords and meaning.",
            discussion: "Prints the best chunks: file, line range, score and a snippet."
        )
        @OptionGroup var options: Options
        @Argument(help: "What to look for.") var query: [String]
        // `.unconditional`: `--limit -1` reaches validate() rather than reading as a flag.
        @Option(name: .shortAndLong, parsing: .unconditional, help: "How many results (1-100).") var limit = 10
        @Option(help: "hybrid (the default; by keywords without a model), keyword or vector.") var mode: String?
        @Flag(help: #"Print {"results":[{"file","line_start","line_end","score","snippet"}]}."#) var json = false

        func validate() throws {
            guard (1...100).contains(limit) else { throw ValidationError("--limit must be between 1 and 100") }
            if let mode, SearchMode(rawValue: mode) == nil {
                throw ValidationError("--mode must be hybrid, keyword or vector")
            }
        }

        func run() throws {
            let searchMode = mode.flatMap(SearchMode.init(rawValue:))
            let ctx = try MemoryCommand.open(options, keywordOnly: searchMode == .keyword)
            let response: MemorySearchResponse
            do {
                response = try ctx.memory.search(query.joined(separator: " "), limit: limit, mode: searchMode)
            } catch {
                throw CLIError(error.message)
            }
            if let notice = response.notice { printError("note: \(notice)") }
            if json {
                print(response.json.encoded())
                return
            }
            if response.results.isEmpty {
                print("No results found.")
                return
            }
            // One write: each print() call costs a lock and a runtime cast, which a one-shot
            // search feels.
            var out = ""
            for (i, r) in response.results.enumerated() {
                out += "\(i + 1). [\(printable(r.file)):\(r.lineStart)-\(r.lineEnd)] (score: "
                out += FixedDecimal.format(r.score, digits: 3) + ")\n   " + r.snippet + "\n"
            }
            print(out, terminator: "")
        }
    }

    // MARK: reindex

    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reindex",
            abstract: "Bring the index up to date with the workspace (changed files only).",
            discussion: """
                With --force every row is rebuilt, in one transaction: searches keep seeing the old \
                index until the new one is complete. Vectors already computed are reused from the cache.
                """
        )
        @OptionGroup var options: Options
        @Flag(help: "Rebuild the whole index.") var force = false

        func run() throws {
            let ctx = try MemoryCommand.open(options)
            let bar = ProgressLine(enabled: isatty(STDERR_FILENO) != 0)
            // Ctrl-C: clear the bar and say what is kept (the index is as before this run, or
            // as after it: a transaction is whole; the vectors of each call to the embedder are
            // written to the embedding cache when it returns, and the next run takes them there).
            signal(SIGINT, SIG_IGN)
            let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            interrupt.setEventHandler {
                bar.finish()
                printError(
                    "interrupted: the vectors computed so far are kept in the embedding cache; "
                        + "run `localgpt memory reindex` again to finish"
                )
                _exit(130)
            }
            interrupt.resume()
            defer {
                interrupt.cancel()
                signal(SIGINT, SIG_DFL)
            }
            let report: ReindexReport
            do {
                report = try ctx.memory.reindex(force: force, progress: { bar.show($0) })
            } catch {
                bar.finish()
                throw CLIError(error.message)
            }
            bar.finish()
            MemoryCommand.noteDamage(report)
            for s in report.skipped {
                printError("\(s.removed ? "removed" : "skipped") \(printable(s.file)): \(s.reason)")
            }
            // files = indexed + unchanged + skipped; removed (gone, or no longer indexable) is
            // apart, and so are the folders that could not be looked at.
            var line =
                "\(counted(report.filesScanned, "file")): \(report.filesUpdated) indexed, "
                + "\(report.filesUnchanged) unchanged, \(report.filesRemoved) removed"
            if report.filesSkipped > 0 { line += ", \(report.filesSkipped) skipped" }
            let folders = report.skipped.count - report.filesSkipped
            if folders > 0 { line += ", \(counted(folders, "folder")) skipped" }
            line += "; \(counted(report.chunksWritten, "chunk")) written"
            if ctx.memory.embedder != nil {
                line += "; \(counted(report.embeddingsComputed, "embedding")) computed, "
                line += "\(report.embeddingsFromCache) from cache"
            }
            line += " (" + FixedDecimal.format(report.durationSeconds, digits: 2) + "s)"
            print(line)
            if let reason = ctx.memory.embedderUnavailableReason { printError("note: \(reason)") }
        }
    }

    /// Says on standard error that the index was found damaged and rebuilt, when `report` says so.
    static func noteDamage(_ report: ReindexReport) {
        guard report.damagedIndexReplaced else { return }
        let moved = report.damagedIndexMovedTo.map { "it was moved to \($0)" } ?? "another process moved it aside"
        printError("note: the index was damaged; \(moved), and it was rebuilt from the workspace")
    }

    // MARK: stats

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show what the index holds.")
        @OptionGroup var options: Options
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let ctx = try MemoryCommand.open(options, keywordOnly: true)
            let (_, reason) = MemoryCommand.loadEmbedder(
                enabled: ctx.memory.configuration.embeddingsEnabled,
                context: ctx.cli
            )
            let s: IndexStats
            do {
                let (stats, rebuild) = try ctx.memory.stats()
                s = stats
                if let rebuild { MemoryCommand.noteDamage(rebuild) }
            } catch {
                throw CLIError(error.message)
            }
            let embedded = s.chunksByModel.filter { !$0.key.isEmpty }
            let pending = s.chunks - embedded.values.reduce(0, +)
            if json {
                let doc: JSONValue = [
                    "workspace": .string(ctx.memory.workspace.root),
                    "index": .string(ctx.memory.index.path),
                    "files": .int(Int64(s.files)),
                    "chunks": .int(Int64(s.chunks)),
                    "vectors": .int(Int64(s.vectors)),
                    "chunks_without_vectors": .int(Int64(pending)),
                    "cached_embeddings": .int(Int64(s.cachedEmbeddings)),
                    "indexed_bytes": .int(s.indexedBytes),
                    "database_bytes": .int(s.databaseBytes),
                    "models": .object(embedded.mapValues { .int(Int64($0)) }),
                ]
                print(doc.encoded(pretty: true))
                return
            }
            print("Workspace:   \(ctx.memory.workspace.root)")
            print("Index:       \(ctx.memory.index.path) (\(Self.size(s.databaseBytes)))")
            print("Files:       \(s.files) (\(Self.size(s.indexedBytes)) of markdown)")
            print("Chunks:      \(s.chunks) (up to \(ctx.memory.configuration.chunker.maxBytes) characters each)")
            for (model, n) in embedded.sorted(by: { $0.key < $1.key }) {
                print("Vectors:     \(counted(n, "chunk")) by \(model)")
            }
            print("No vectors:  \(counted(pending, "chunk"))")
            print("Cache:       \(counted(s.cachedEmbeddings, "embedding"))")
            if let last = s.lastIndexedAt { print("Last index:  \(ISO8601DateFormatter().string(from: last))") }
            if let reason { print("Embeddings:  off (\(reason))") }
        }

        static func size(_ bytes: Int64) -> String {
            if bytes < 1024 { return "\(bytes) B" }
            if bytes < 1 << 20 { return FixedDecimal.format(Double(bytes) / 1024, digits: 1) + " KiB" }
            return FixedDecimal.format(Double(bytes) / 1_048_576, digits: 1) + " MiB"
        }
    }

    // MARK: recent

    struct Recent: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recent",
            abstract: "List the most recently changed memory files."
        )
        @OptionGroup var options: Options
        @Option(name: .shortAndLong, parsing: .unconditional, help: "How many files (1-1000).") var limit = 10

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        }

        func run() throws {
            let ctx = try MemoryCommand.open(options, keywordOnly: true)
            let files: [IndexedFile]
            do {
                MemoryCommand.noteDamage(try ctx.memory.reindex(embedLimit: 0))
            } catch {
                // A read-only index (or a full disk) still lists what it holds.
                printError("note: the index could not be updated, the list may miss recent changes: \(error.message)")
            }
            do {
                files = try ctx.memory.index.recentFiles(limit: limit)
            } catch {
                throw CLIError(error.message)
            }
            if files.isEmpty {
                print("No memory files yet.")
                return
            }
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            for f in files {
                let when = formatter.string(from: f.modified)
                print("\(when)  \(printable(f.file))  (\(counted(f.chunks, "chunk")), \(Stats.size(f.size)))")
            }
        }
    }
}

/// "1 chunk", "2 chunks", "0 chunks": `n` and `noun`, plural unless `n` is 1.
func counted(_ n: Int, _ noun: String) -> String {
    "\(n) \(noun)\(n == 1 ? "" : "s")"
}

/// A one-line progress bar on standard error (only when it is a terminal).
final class ProgressLine: @unchecked Sendable {
    // Called from the indexing thread only; the lock keeps writes whole.
    private let enabled: Bool
    private let lock = NSLock()
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: ReindexProgress) {
        lock.lock()
        defer { lock.unlock() }
        if p.phase == .waiting {
            // Said on every output: the command may wait for minutes.
            let note = "waiting for another process that is computing this index's vectors…"
            FileHandle.standardError.write(Data((enabled ? "\r\(note)\u{1B}[K" : "note: \(note)\n").utf8))
            shown = enabled
            return
        }
        guard enabled, p.total > 0 else { return }
        let width = 30
        let filled = min(width, width * p.done / p.total)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let label = p.phase.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(p.done)/\(p.total)\u{1B}[K".utf8))
        shown = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}

extension CLIContext {
    /// The plugin host's memory service: this home's workspace, opened (and the local embedder
    /// loaded) on the first memory_search / memory_append a plugin makes.
    func makeMemoryService() -> any MemoryService {
        let config = MemoryConfiguration(paths: paths, configuration: configuration)
        let logger = self.logger
        for warning in config.warnings { logger.warning("memory configuration: \(warning)") }
        return WorkspaceMemoryService { () throws(MemoryError) in
            let (embedder, reason) = MemoryCommand.loadEmbedder(enabled: config.embeddingsEnabled, context: self)
            return try MemoryManager(
                configuration: config,
                embedder: embedder,
                embedderUnavailableReason: reason,
                logger: logger
            )
        }
    }
}
