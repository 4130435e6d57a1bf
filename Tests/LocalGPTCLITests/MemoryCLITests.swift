//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Synchronization
import Testing

/// `localgpt memory ...` end to end, keyword-only (the model folder points nowhere) so the output
/// does not depend on whether the local model is installed.
@Suite struct MemoryCLITests {
    struct Home {
        let path = TestSupport.makeTemporaryDirectory("lgpt-memcli")

        var environment: [String: String] {
            [
                "LOCALGPT_HOME": path,
                "HOME": path,
                "PATH": "/usr/bin:/bin",
                "COLUMNS": "100",
                "LOCALGPT_MODELS_DIR": path + "/no-models",
            ]
        }

        @discardableResult
        func run(
            _ args: String...,
            env: [String: String] = [:]
        ) throws -> (status: Int32, stdout: String, stderr: String) {
            try TestSupport.run(
                TestSupport.localgptExecutable,
                args,
                environment: environment.merging(env) { $1 }
            )
        }

        func write(_ relative: String, _ text: String, in workspace: String? = nil) throws {
            let file = (workspace ?? path + "/workspace") + "/" + relative
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
    }

    /// `memory reindex` beside another process computing the same index's vectors waited in
    /// silence, and Ctrl-C left its progress bar on the line without a word. It now says it
    /// waits, and an interrupt says what is kept, exiting 130.
    @Test func reindexSaysItWaitsAndAnInterruptSaysWhatIsKept() throws {
        let home = Home()
        try home.write("notes.md", "a note about the garden\n")
        let models = LocalGPTPaths.modelsDirectory(environment: ProcessInfo.processInfo.environment)
        try #require(FileManager.default.fileExists(atPath: models + "/all-MiniLM-L6-v2/model.safetensors"))
        // Another process computing this index's vectors holds its lock.
        try FileManager.default.createDirectory(atPath: home.path + "/memory", withIntermediateDirectories: true)
        let fd = open(home.path + "/memory/main.sqlite.embedding-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
        defer { close(fd) }

        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.localgptExecutable)
        p.arguments = ["memory", "reindex"]
        p.environment = home.environment.merging(["LOCALGPT_MODELS_DIR": models]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let stderr = Mutex("")
        let reader = err.fileHandleForReading
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                stderr.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
            done.signal()
        }
        let deadline = Date().addingTimeInterval(60)
        while !stderr.withLock({ $0.contains("waiting for another process") }) && Date() < deadline && p.isRunning {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(
            stderr.withLock { $0 }.contains("note: waiting for another process that is computing this index's vectors")
        )
        p.interrupt()
        p.waitUntilExit()
        _ = done.wait(timeout: .now() + 10)
        #expect(p.terminationStatus == 130)
        #expect(stderr.withLock { $0 }.contains("interrupted: the vectors computed so far are kept"))
    }

    @Test func searchJSONHasTheDocumentedShape() throws {
        let home = Home()
        try home.write("memory/2024-06-01.md", "# 2024-06-01\n\n- Planted tomatoes and basil on the balcony.\n")
        let r = try home.run("memory", "search", "what did I plant on the balcony?", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONValue(parsing: r.stdout)
        let first = try #require(doc["results"]?.arrayValue?.first)
        #expect(first["file"] == "memory/2024-06-01.md")
        #expect(first["line_start"] == 1)
        #expect(first["line_end"] == 3)
        #expect((first["score"]?.doubleValue ?? 0) > 0)
        #expect(first["snippet"]?.stringValue?.contains("tomatoes") == true)
        #expect(
            Set(first.objectValue?.keys.map { $0 } ?? []) == ["file", "line_start", "line_end", "score", "snippet"]
        )
        #expect(r.stderr.contains("keyword search only"), "one-line notice without a model")
        // The workspace was created from templates on first use.
        #expect(FileManager.default.fileExists(atPath: home.path + "/workspace/MEMORY.md"))
    }

    @Test func searchTextOutputAndLimit() throws {
        let home = Home()
        for i in 1...5 { try home.write("knowledge/n\(i).md", "note \(i) about the orchard and apples\n") }
        let r = try home.run("memory", "search", "orchard", "--limit", "2")
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("1. [knowledge/n"))
        #expect(lines[0].contains(":1-1] (score: "))
        #expect(lines[1].hasPrefix("   note "))
        let none = try home.run("memory", "search", "zanzibar")
        #expect(none.stdout == "No results found.\n")
        let empty = try home.run("memory", "search", " ")
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("the query is empty"))
        for bad in ["0", "-1", "101"] {
            let r = try home.run("memory", "search", "x", "--limit", bad)
            #expect(r.status != 0, "\(bad)")
            #expect(r.stderr.contains("--limit must be between 1 and 100"), "\(bad): \(r.stderr)")
        }
    }

    /// A note (or a web page the agent saved) holding escape sequences, or a file name holding
    /// ESC or a newline, must not reach the terminal raw: `\e]0;...\a` retitles the window.
    @Test func controlCharactersDoNotReachTheTerminal() throws {
        let home = Home()
        try home.write("bad\u{1B}[31m\nname.md", "zebra \u{1B}]0;HACKED\u{07} text \u{1B}[31mRED\u{08} \u{9B}2J end\n")
        let r = try home.run("memory", "search", "zebra")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1. [bad?[31m?name.md:1-1]"), "\(r.stdout)")
        #expect(r.stdout.contains("zebra \u{FFFD}]0;HACKED\u{FFFD} text \u{FFFD}[31mRED\u{FFFD} \u{FFFD}2J end"))
        #expect(!r.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        let recent = try home.run("memory", "recent")
        #expect(recent.stdout.contains("bad?[31m?name.md"), "\(recent.stdout)")
        #expect(!recent.stdout.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x9B })
    }

    @Test func ignoredSettingsAreReported() throws {
        let home = Home()
        try "[memory]\npaths = \"/nonexistent/notes\"\n".write(
            toFile: home.path + "/config.toml",
            atomically: true,
            encoding: .utf8
        )
        let r = try home.run("memory", "stats")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: memory.paths must be a list of folders"), "\(r.stderr)")
        let empty = try home.run("memory", "search", "x", "--workspace", "")
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("--workspace needs a folder"), "\(empty.stderr)")
    }

    @Test func workspaceFlagAndEnvironmentPickAnotherWorkspace() throws {
        let home = Home()
        let other = home.path + "/elsewhere"
        try home.write("a.md", "the meerkat colony\n", in: other)
        let flag = try home.run("memory", "search", "meerkat", "--workspace", other, "--json")
        #expect(try JSONValue(parsing: flag.stdout)["results"]?.arrayValue?.first?["file"] == "a.md")
        let env = try home.run("memory", "search", "meerkat", "--json", env: ["LOCALGPT_WORKSPACE": other])
        #expect(try JSONValue(parsing: env.stdout)["results"]?.arrayValue?.first?["file"] == "a.md")
        let relative = try home.run("memory", "search", "meerkat", "--json", env: ["LOCALGPT_WORKSPACE": "elsewhere"])
        #expect(
            try JSONValue(parsing: relative.stdout)["results"]?.arrayValue?.isEmpty == true,
            "relative values are ignored"
        )
        let stats = try home.run("memory", "stats", "--workspace", other)
        #expect(stats.stdout.contains("Workspace:   \(other)"))
        #expect(
            stats.stdout.contains("Files:       5 "),
            "a.md and the four templates LOCALGPT_WORKSPACE's run wrote (the flag writes none)"
        )

        // A missing folder (a typo) is an error; it used to be created, templates and all.
        let typo = home.path + "/elsewher"
        for command in [["search", "meerkat"], ["reindex"], ["stats"], ["recent"]] {
            let r = try TestSupport.run(
                TestSupport.localgptExecutable,
                ["memory"] + command + ["--workspace", typo],
                environment: home.environment
            )
            #expect(r.status != 0, "\(command)")
            #expect(r.stderr.contains("--workspace \(typo): no such folder"), "\(command): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: typo))
        let file = try home.run("memory", "search", "meerkat", "--workspace", other + "/a.md")
        #expect(file.stderr.contains("--workspace \(other)/a.md is not a folder"), "\(file.stderr)")
    }

    /// `--workspace DIR` names a folder the user already has (a project, a notes folder): every
    /// memory command, even `stats`, wrote the workspace templates into it (`.gitignore`,
    /// `MEMORY.md`, `SOUL.md`, `memory/`...). The folder is now used as it is.
    @Test func theWorkspaceFlagsFolderIsUsedAsItIs() throws {
        let home = Home()
        let project = home.path + "/project"
        try home.write("notes/a.md", "the meerkat colony\n", in: project)
        try home.write("README.md", "a project\n", in: project)
        func listing() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: project).sorted()
        }
        let before = try listing()
        for command in [["stats"], ["search", "meerkat"], ["reindex"], ["recent"], ["reindex", "--force"]] {
            let r = try TestSupport.run(
                TestSupport.localgptExecutable,
                ["memory"] + command + ["--workspace", project],
                environment: home.environment
            )
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect(try listing() == before, "\(command) wrote into the folder")
        }
        let found = try home.run("memory", "search", "meerkat", "--workspace", project, "--json")
        #expect(try JSONValue(parsing: found.stdout)["results"]?.arrayValue?.first?["file"] == "notes/a.md")
        let stats = try home.run("memory", "stats", "--workspace", project)
        #expect(stats.stdout.contains("Files:       2 "), "\(stats.stdout)")
        // The configured workspace is still created, with its templates, on first use.
        #expect(try home.run("memory", "stats").status == 0)
        #expect(FileManager.default.fileExists(atPath: home.path + "/workspace/MEMORY.md"))
    }

    @Test func reindexStatsAndRecent() throws {
        let home = Home()
        try home.write("memory/2024-06-01.md", "first day\n")
        try home.write("memory/2024-06-02.md", "second day\n")
        let first = try home.run("memory", "reindex")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("6 files: 6 indexed, 0 unchanged, 0 removed"))
        let again = try home.run("memory", "reindex")
        #expect(again.stdout.hasPrefix("6 files: 0 indexed, 6 unchanged, 0 removed"))
        let forced = try home.run("memory", "reindex", "--force")
        #expect(forced.stdout.hasPrefix("6 files: 6 indexed"))
        let stats = try home.run("memory", "stats", "--json")
        let doc = try JSONValue(parsing: stats.stdout)
        #expect(doc["files"] == 6)
        #expect(doc["chunks"]?.intValue ?? 0 >= 6)
        try home.write("memory/2024-06-03.md", "third day\n")
        let recent = try home.run("memory", "recent", "--limit", "1")
        #expect(recent.stdout.contains("memory/2024-06-03.md"))
        #expect(recent.stdout.contains("(1 chunk, "), "not \"1 chunks\": \(recent.stdout)")
        #expect(recent.stdout.split(separator: "\n").count == 1)
        // A limit out of range is an error, not "No memory files yet."
        for bad in ["0", "-1", "1001"] {
            let r = try home.run("memory", "recent", "--limit", bad)
            #expect(r.status != 0, "\(bad)")
            #expect(r.stderr.contains("--limit must be between 1 and 1000"), "\(bad): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
    }

    /// The file total left out a file whose name is not UTF-8, which `skipped` counted
    /// ("6 files: 5 indexed, 0 unchanged, 0 removed, 2 skipped"); a folder is counted apart.
    @Test func reindexFiguresAddUp() throws {
        let home = Home()
        try home.write("good.md", "good\n")
        try home.write("bin.md", "b\u{0}in\n")
        let workspace = Array((home.path + "/workspace/").utf8)
        for (name, folder) in [("bad\u{FF}name.md", false), ("dir\u{FE}", true)] {
            // Latin-1 bytes: 0xFF and 0xFE are not UTF-8.
            let path = (workspace + name.unicodeScalars.map { UInt8($0.value) } + [0]).map { CChar(bitPattern: $0) }
            if folder {
                #expect(mkdir(path, 0o700) == 0)
            } else {
                let fd = Glibc.open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
                #expect(fd >= 0)
                close(fd)
            }
        }
        // The four template notes, good.md, bin.md and the misnamed file.
        let r = try home.run("memory", "reindex")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout.hasPrefix("7 files: 5 indexed, 0 unchanged, 0 removed, 2 skipped, 1 folder skipped;"),
            "\(r.stdout)"
        )
        #expect(r.stderr.contains("skipped bin.md: binary file"), "\(r.stderr)")
    }

    /// A damaged index file is moved aside and rebuilt by `stats` and `recent` too, and both say
    /// so (`stats` used to count the empty index that replaced it, in silence).
    @Test func statsAndRecentReportADamagedIndex() throws {
        let home = Home()
        try home.write("notes.md", "a note about the garden\n")
        #expect(try home.run("memory", "reindex").status == 0)
        let index = home.path + "/memory/main.sqlite"
        for command in ["stats", "recent"] {
            try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: index))
            let r = try home.run("memory", command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("note: the index was damaged; it was moved to \(index).corrupt-"), "\(r.stderr)")
            #expect(r.stderr.contains("and it was rebuilt from the workspace"), "\(command): \(r.stderr)")
            if command == "stats" {
                #expect(r.stdout.contains("Files:       5 "), "\(r.stdout)")
            } else {
                #expect(r.stdout.contains("notes.md"), "\(r.stdout)")
            }
            #expect(!(try home.run("memory", command).stderr.contains("damaged")))
        }
    }

    @Test func benchmarkCommandIsHidden() throws {
        let help = try Home().run("memory", "--help")
        #expect(help.stdout.contains("search"))
        #expect(help.stdout.contains("reindex"))
        #expect(!help.stdout.contains("bench-locomo"))
    }

    /// `chmod 000` on an indexed note kept its text in the index: a search still returned it. A
    /// permission error now drops the note's rows (and those of a folder that cannot be listed),
    /// and `memory reindex` says so. Root reads any file, so as root the commands run as `nobody`
    /// (with `setpriv`), in a home that `nobody` owns.
    @Test(.enabled(if: getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func aNoteLockedByItsPermissionsIsRemovedFromTheIndex() throws {
        let home = Home()
        try home.write("ok.md", "notes about the harbour\n")
        try home.write("locked.md", "the combination is in the walrus drawer\n")
        try home.write("private/plans.md", "the surprise party is on the narwhal boat\n")
        let asRoot = getuid() == 0
        if asRoot {
            for path in [home.path]
                + (FileManager.default.subpaths(atPath: home.path) ?? []).map({ home.path + "/" + $0 })
            {
                #expect(lchown(path, 65534, 65534) == 0, "\(path)")
            }
        }
        func run(_ args: String...) throws -> (status: Int32, stdout: String, stderr: String) {
            guard asRoot else {
                return try TestSupport.run(TestSupport.localgptExecutable, args, environment: home.environment)
            }
            return try TestSupport.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", TestSupport.localgptExecutable] + args,
                environment: home.environment
            )
        }
        let first = try run("memory", "reindex")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try run("memory", "search", "walrus drawer").stdout.contains("locked.md"))
        #expect(try run("memory", "search", "narwhal boat").stdout.contains("private/plans.md"))
        let workspace = home.path + "/workspace"
        #expect(chmod(workspace + "/locked.md", 0) == 0)
        #expect(chmod(workspace + "/private", 0) == 0)
        defer {
            chmod(workspace + "/locked.md", 0o600)
            chmod(workspace + "/private", 0o700)
        }
        let r = try run("memory", "reindex")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("removed locked.md: cannot read it (Permission denied)"), "\(r.stderr)")
        #expect(r.stderr.contains("skipped private: cannot list the folder: Permission denied"), "\(r.stderr)")
        #expect(r.stdout.contains(" 2 removed, 1 skipped, 1 folder skipped;"), "\(r.stdout)")
        for query in ["walrus drawer", "narwhal boat"] {
            let after = try run("memory", "search", query)
            #expect(after.status == 0, "\(after.stderr)")
            #expect(after.stdout == "No results found.\n", "\(query): \(after.stdout)")
        }
        #expect(FileManager.default.fileExists(atPath: workspace + "/locked.md"), "never a lost file")
    }

    /// Symbolic links to notes were left out in silence; `memory reindex` lists those it does not
    /// index, with the reason.
    @Test func reindexListsTheLinksItDoesNotIndex() throws {
        let home = Home()
        try home.write("sub/real.md", "a grey heron by the pond\n")
        let workspace = home.path + "/workspace"
        try "an osprey over the lake\n".write(toFile: home.path + "/outside.md", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: workspace + "/in.md", withDestinationPath: "sub/real.md")
        try FileManager.default.createSymbolicLink(
            atPath: workspace + "/out.md",
            withDestinationPath: home.path + "/outside.md"
        )
        let r = try home.run("memory", "reindex")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stderr.contains("skipped in.md: a symbolic link to sub/real.md, which is indexed under that name"),
            "\(r.stderr)"
        )
        #expect(r.stderr.contains("skipped out.md: a symbolic link to "), "\(r.stderr)")
        #expect(r.stderr.contains("outside.md, outside the workspace and memory.paths: not indexed"), "\(r.stderr)")
        #expect(try home.run("memory", "search", "osprey").stdout == "No results found.\n")
    }
}
