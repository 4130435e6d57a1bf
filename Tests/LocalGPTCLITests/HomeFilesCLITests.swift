//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

/// The files of the home that commands write (config.toml, grants.json, plugins/, the signed policy's
/// manifest), with real `localgpt` processes: several at once, killed half way (strace injects
/// SIGKILL at a chosen `rename`), on a full or read-only disk (a tmpfs in a private mount namespace).
@Suite struct HomeFilesCLITests {
    /// A home of its own with no bundled plugins (the md tests' one), and what these tests add to it.
    typealias Home = MDCLITests.Home

    static let strace = "/usr/bin/strace"
    static var hasStrace: Bool { FileManager.default.isExecutableFile(atPath: strace) }
    static var canMount: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") }

    /// A fixture plugin folder: `id` at `version`, allowed to run echo.
    static func plugin(_ id: String, version: String = "1.0.0") throws -> String {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-homefiles-plugin")
        var f = FixturePlugin(id: id)
        f.version = version
        f.permissions = ["exec": ["commands": ["echo"]]]
        try f.build(in: dir)
        return dir
    }

    /// The pid of a process that has ended.
    static func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    /// A writer token (`<pid>-<start>-<boot>-<namespace>`) of this boot and PID namespace.
    static func token(pid: Int32, start: UInt64) throws -> String {
        let boot = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        let namespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        return "\(pid)-\(start)-\(boot.filter(\.isHexDigit).prefix(8))-\(namespace.filter(\.isNumber))"
    }

    /// This test process's own token (a running writer).
    static func ownToken() throws -> String {
        let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return try token(pid: getpid(), start: UInt64(fields[19])!)
    }

    // MARK: 1. config set

    /// Four `config set` of different keys at once, fifteen times (every other time on a home without
    /// config.toml): every change lands. Without the lock about half of such pairs lost one change.
    @Test func configSetsAtOnceAllLand() throws {
        let home = Home()
        for round in 0..<15 {
            if round % 2 == 1 { unlink(home.paths.configFile) }
            let results = try home.runAtOnce(
                (0..<4).map { ["config", "set", "homefiles.key\($0)", "r\(round)v\($0)"] }
            )
            for r in results { #expect(r.status == 0, "\(r.stderr)") }
            let text = try String(contentsOfFile: home.paths.configFile, encoding: .utf8)
            let config = try Configuration(toml: text, environment: [:])
            for k in 0..<4 {
                #expect(config.string("homefiles.key\(k)") == "r\(round)v\(k)", "round \(round), key \(k) lost")
            }
            #expect(text.contains("# The model to chat with."), "the template's comments are kept")
        }
    }

    /// A value of the wrong type or outside the allowed ones is refused when set, with what LocalGPT
    /// would say about it, and the file is left byte for byte; a problem the file had already does
    /// not stop another change.
    @Test func configSetRefusesValuesTheCommandsWouldRefuseOrReplace() throws {
        let home = Home()
        try home.run("config", "init")
        let before = try String(contentsOfFile: home.paths.configFile, encoding: .utf8)
        let cases: [(key: String, value: String, literal: String, said: String)] = [
            ("logging.level", "bogus", "\"bogus\"", "logging.level must be one of trace, debug, info"),
            ("memory.chunk_size", "\"abc\"", "\"abc\"", "memory.chunk_size must be a whole number"),
            ("memory.chunk_size", "5", "5", "memory.chunk_size = 5 is outside 16...1048576"),
            ("sandbox.level", "weird", "\"weird\"", "sandbox.level \"weird\" is not one of auto, full"),
            ("local_model.threads", "0", "0", "local_model.threads must be a whole number from 1 to 1024"),
            ("agent.default_model", "42", "42", "agent.default_model must be a string"),
        ]
        for c in cases {
            let r = try home.run("config", "set", c.key, c.value)
            #expect(r.status == 1, "\(c.key) = \(c.value) was accepted")
            #expect(r.stdout.isEmpty, "\(r.stdout)")
            let refused = "Error: refused \(c.key) = \(c.literal), \(home.paths.configFile) is unchanged."
            #expect(r.stderr.hasPrefix(refused), "\(r.stderr)")
            #expect(r.stderr.contains("With it, LocalGPT would say: \(c.said)"), "\(r.stderr)")
            #expect(try String(contentsOfFile: home.paths.configFile, encoding: .utf8) == before)
        }
        #expect(try home.run("config", "set", "logging.level", "debug").stdout == "Set logging.level\n")
        #expect(try home.run("config", "set", "memory.chunk_size", "300").status == 0)
        #expect(try home.run("config", "get", "memory.chunk_size").stdout == "300\n")
        // A problem written by hand stays the user's; other keys can still be set.
        let text = try String(contentsOfFile: home.paths.configFile, encoding: .utf8)
        try text.replacingOccurrences(of: "level = \"debug\"", with: "level = \"loud\"")
            .write(toFile: home.paths.configFile, atomically: true, encoding: .utf8)
        let other = try home.run("config", "set", "agent.default_model", "openai/gpt-4o")
        #expect(other.status == 0, "\(other.stderr)")
        #expect(try home.run("config", "get", "logging.level").stdout == "loud\n")
        #expect(try home.run("config", "get", "agent.default_model").stdout == "openai/gpt-4o\n")
    }

    // MARK: 2. plugin install / remove

    /// Three installs of different plugins at once, five times: every plugin is installed with its
    /// grant, and each loads with it. Without the grants lock about one pair in five lost a grant.
    @Test func installsAtOnceKeepEveryGrant() throws {
        let ids = ["org.example.once1", "org.example.once2", "org.example.once3"]
        let sources = try ids.map { try Self.plugin($0) }
        for round in 0..<5 {
            let home = Home()
            try home.run("init")
            let results = try home.runAtOnce(sources.map { ["plugin", "install", $0, "--yes"] })
            for r in results { #expect(r.status == 0, "\(r.stderr)") }
            let grants = try home.grants()
            for id in ids {
                #expect(grants[id]?.integrity == .verified, "round \(round): the grant of \(id) was lost")
                #expect(grants[id]?.permissions.execCommands == ["echo"])
            }
            if round == 0 {
                let list = try home.run("plugin", "list", "--json")
                let doc = try JSONValue(parsing: list.stdout)
                let loaded = doc["plugins"]?.arrayValue?.compactMap { $0["id"]?.stringValue }.sorted()
                #expect(loaded == ids, "\(list.stdout)")
                #expect(doc["errors"] == [])
                #expect(!list.stderr.contains("no grant"), "\(list.stderr)")
            }
        }
    }

    /// Three installs of the same plugin at once: one installs it, the others say it is installed.
    @Test func theSamePluginInstalledAtOnceIsInstalledOnce() throws {
        let source = try Self.plugin("org.example.same")
        for round in 0..<4 {
            let home = Home()
            try home.run("init")
            let results = try home.runAtOnce(Array(repeating: ["plugin", "install", source, "--yes"], count: 3))
            let installed = results.filter { $0.status == 0 }
            #expect(installed.count == 1, "round \(round): \(results.map(\.stdout))")
            #expect(installed.allSatisfy { $0.stdout.contains("Installed org.example.same 1.0.0") })
            for r in results where r.status != 0 {
                #expect(r.stderr.contains("org.example.same 1.0.0 is already installed"), "\(r.stderr)")
            }
            #expect(home.hiddenEntries(home.paths.pluginsDirectory).isEmpty)
        }
    }

    /// `plugin install --force` (and a first install, and `plugin remove`) killed before each of its
    /// renames in turn: the next `plugin list` has the old plugin or the new one, with its grant, and
    /// no folder left behind; one without its grant is never installed.
    @Test(.enabled(if: hasStrace, "strace is not installed")) func aKilledInstallOrRemovalIsFinishedOrUndone() throws {
        let id = "org.example.crash"
        let v1 = try Self.plugin(id, version: "1.0.0")
        let v2 = try Self.plugin(id, version: "2.0.0")
        for scenario in ["first install", "replace", "remove"] {
            var n = 1
            while true {
                let home = Home()
                try home.run("init")
                if scenario != "first install" {
                    #expect(try home.run("plugin", "install", v1, "--yes").status == 0)
                }
                let killed =
                    scenario == "remove"
                    ? try home.runKilled(atRename: n, "plugin", "remove", id)
                    : try home.runKilled(atRename: n, "plugin", "install", v2, "--yes", "--force")
                let list = try home.run("plugin", "list", "--json")
                #expect(list.status == 0, "\(list.stderr)")
                let doc = try JSONValue(parsing: list.stdout)
                #expect(doc["errors"] == [], "\(scenario), rename \(n): \(list.stdout)")
                let version = doc["plugins"]?.arrayValue?.first { $0["id"]?.stringValue == id }?["version"]
                let grant = try home.grants()[id]
                switch version?.stringValue {
                case "1.0.0":
                    #expect(scenario != "first install")
                    #expect(grant.map { $0.integrity == .verified && $0.librarySHA256 != "" } == true)
                case "2.0.0":
                    #expect(scenario != "remove")
                case nil:
                    #expect(scenario != "replace", "rename \(n): the plugin disappeared")
                default:
                    Issue.record("\(scenario), rename \(n): \(String(describing: version))")
                }
                #expect(home.hiddenEntries(home.paths.pluginsDirectory).isEmpty, "\(scenario), rename \(n)")
                #expect(!list.stderr.contains("no grant"), "\(scenario), rename \(n): \(list.stderr)")
                // Whatever state it left, the next install without --force does what it says.
                if version == nil {
                    let again = try home.run("plugin", "install", v2, "--yes")
                    #expect(again.status == 0, "\(scenario), rename \(n): \(again.stderr)")
                    #expect(!home.hiddenEntries(home.path).contains { $0.hasPrefix(".grants.json.tmp-") })
                }
                if !killed { break }
                n += 1
                if n > 12 {
                    Issue.record("\(scenario): still killed at rename 12")
                    break
                }
            }
            #expect(n > 1, "\(scenario): strace never killed it")
        }
    }

    /// The folders an install of an earlier version left when it was killed (`.<id>.old-<pid>` and
    /// `.<id>.installing-<pid>`, its plugin moved aside) are dealt with by the next `plugin list`: the
    /// plugin is back with its grant. A half-done removal is finished; a plugin with no grant is
    /// replaced by an install without --force.
    @Test func leftoversOfKilledProcessesAreRecoveredByTheNextCommand() throws {
        let id = "org.example.left"
        let v1 = try Self.plugin(id, version: "1.0.0")
        let home = Home()
        try home.run("init")
        #expect(try home.run("plugin", "install", v1, "--yes").status == 0)
        let plugins = home.paths.pluginsDirectory
        let dead = try Self.deadPID()
        let fm = FileManager.default
        try fm.moveItem(atPath: "\(plugins)/\(id)", toPath: "\(plugins)/.\(id).old-\(dead)")
        try fm.createDirectory(atPath: "\(plugins)/.\(id).installing-\(dead)", withIntermediateDirectories: true)
        try "{".write(toFile: "\(plugins)/.\(id).installing-\(dead)/plugin.json", atomically: false, encoding: .utf8)
        // A running process's install is left alone.
        let live = "\(plugins)/.org.example.other.installing-\(try Self.ownToken())"
        try fm.createDirectory(atPath: live, withIntermediateDirectories: true)

        let list = try home.run("plugin", "list")
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stderr.contains("note: plugins: restored \(id) 1.0.0"), "\(list.stderr)")
        #expect(list.stdout.contains("\(id) 1.0.0"), "\(list.stdout)")
        #expect(list.stdout.contains("permissions: run commands: echo"), "\(list.stdout)")
        #expect(home.hiddenEntries(plugins) == [".org.example.other.installing-\(try Self.ownToken())"])
        try fm.removeItem(atPath: live)

        // A removal killed after it moved the plugin away: finished, grant and all.
        try fm.moveItem(atPath: "\(plugins)/\(id)", toPath: "\(plugins)/.\(id).removing-\(dead)")
        let after = try home.run("plugin", "list")
        #expect(after.stderr.contains("note: plugins: finished removing \(id)"), "\(after.stderr)")
        #expect(!after.stdout.contains(id))
        #expect(try home.grants()[id] == nil)
        #expect(home.hiddenEntries(plugins).isEmpty)

        // A plugin without a grant (copied by hand, or an install killed by an earlier version) is
        // replaced by a plain install.
        #expect(try home.run("plugin", "install", v1, "--yes").status == 0)
        try PluginGrantStore(path: home.paths.grantsFile, key: DeviceKey.load(from: home.paths.deviceKey)).remove(id)
        let noGrant = try home.run("plugin", "list")
        #expect(noGrant.stderr.contains("plugin has no grant in grants.json"), "\(noGrant.stderr)")
        #expect(!noGrant.stderr.contains("it was not installed with"), "\(noGrant.stderr)")
        let reinstall = try home.run("plugin", "install", v1, "--yes")
        #expect(reinstall.status == 0, "\(reinstall.stderr)")
        #expect(reinstall.stdout.contains("Replacing \(id) 1.0.0 (it has no grant) with 1.0.0"), "\(reinstall.stdout)")
        #expect(try home.grants()[id]?.integrity == .verified)
        // One with a grant still needs --force.
        #expect(try home.run("plugin", "install", v1, "--yes").stderr.contains("already installed"))
    }

    // MARK: 3. temporary files

    /// A write killed before its rename leaves a temporary copy (config.toml's holds the keys); the
    /// next write of the same file removes the ones whose writer is gone and keeps a running one's.
    @Test func temporaryFilesOfDeadWritersAreRemovedByTheNextWrite() throws {
        let home = Home()
        try home.run("config", "init")
        try home.run("config", "set", "providers.openai.api_key", "sk-homefiles-secret-1234")
        let dead = try Self.token(pid: try Self.deadPID(), start: 1)
        let earlierBoot = "\(getpid())-1-00000000-\(try Self.ownToken().split(separator: "-").last!)"
        let running = try Self.ownToken()
        for token in [dead, earlierBoot, running] {
            try "api_key = \"sk-homefiles-secret-1234\"\n".write(
                toFile: "\(home.path)/.config.toml.tmp-\(token).AbC123",
                atomically: false,
                encoding: .utf8
            )
        }
        try "mine".write(toFile: "\(home.path)/.config.toml.backup", atomically: false, encoding: .utf8)
        #expect(try home.run("config", "set", "agent.default_model", "openai/gpt-4o").status == 0)
        #expect(home.hiddenEntries(home.path) == [".config.toml.backup", ".config.toml.tmp-\(running).AbC123"])
    }

    /// The same with real kills, for config.toml, grants.json and the policy's manifest.
    @Test(.enabled(if: hasStrace, "strace is not installed")) func killedWritesLeaveNoCopyBehind() throws {
        let home = Home()
        try home.run("init")
        try home.run("config", "set", "providers.openai.api_key", "sk-homefiles-secret-1234")
        // Any temporary copy, whatever its name (".<file>." and more), is looked for.
        func copies(_ prefix: String, in folder: String) -> [String] {
            home.hiddenEntries(folder).filter { $0.hasPrefix(prefix) }
        }
        #expect(try home.runKilled(atRename: 1, "config", "set", "agent.default_model", "openai/gpt-4o"))
        let left = try #require(copies(".config.toml.", in: home.path).first, "the kill left no copy")
        #expect(try String(contentsOfFile: "\(home.path)/\(left)", encoding: .utf8).contains("sk-homefiles"))
        #expect(try home.run("config", "set", "agent.default_model", "openai/gpt-4o").status == 0)
        #expect(copies(".config.toml.", in: home.path).isEmpty)

        let source = try Self.plugin("org.example.tmp")
        #expect(try home.runKilled(atRename: 1, "plugin", "install", source, "--yes"))
        #expect(!copies(".grants.json.", in: home.path).isEmpty)
        let install = try home.run("plugin", "install", source, "--yes")
        #expect(install.status == 0, "\(install.stderr)")
        #expect(copies(".grants.json.", in: home.path).isEmpty)
        #expect(home.hiddenEntries(home.paths.pluginsDirectory).isEmpty)

        try "Be brief.\n".write(toFile: home.paths.policyFile, atomically: false, encoding: .utf8)
        #expect(try home.runKilled(atRename: 1, "md", "sign"))
        #expect(!copies("..localgpt_manifest.json.", in: home.paths.workspace).isEmpty)
        #expect(try home.run("md", "sign").status == 0)
        #expect(copies("..localgpt_manifest.json.", in: home.paths.workspace).isEmpty)
    }

    // MARK: 4. full and read-only disks

    /// `script` run by sh in a private mount namespace where the home is a 2 MiB tmpfs, after
    /// `localgpt init`, with `$L` the localgpt executable and `$H` the home; standard error goes to
    /// standard output, so the order of the two is the order a user sees on a terminal.
    static func onSmallDisk(_ home: Home, _ script: String) throws -> String {
        let setup = """
            set -u
            H="$LOCALGPT_HOME"; L="\(TestSupport.localgptExecutable)"
            mount -t tmpfs -o size=2m tmpfs "$H" || exit 99
            exec 2>&1
            "$L" init >/dev/null 2>&1 || exit 98
            fill() { head -c 4M /dev/zero > "$H/fill" 2>/dev/null; true; }

            """
        let r = try TestSupport.run(
            "/usr/bin/unshare",
            ["-m", "/bin/sh", "-c", setup + script],
            environment: home.environment
        )
        try #require(r.status != 99 && r.status != 98, "the tmpfs could not be set up: \(r.stdout) \(r.stderr)")
        return r.stdout + r.stderr
    }

    @Test(.enabled(if: canMount, "needs root and unshare to mount a small tmpfs"))
    func aFullOrReadOnlyDiskIsSaidPlainlyAndChangesNothing() throws {
        let home = Home()
        let source = try Self.plugin("org.example.full")
        let full = try Self.onSmallDisk(
            home,
            """
            fill
            "$L" plugin install "\(source)" --yes; echo "status=$?"
            echo "plugins: $(ls -A "$H/plugins" | tr '\\n' ' ')"; echo "grants: $(cat "$H/grants.json" 2>/dev/null)"
            """
        )
        let error =
            "Error: not installed: cannot copy plugin.json into \(home.paths.pluginsDirectory): No space left on device"
        #expect(full.contains(error), "\(full)")
        #expect(!full.contains("NSCocoaErrorDomain"), "\(full)")
        #expect(full.contains("status=1"))
        #expect(full.contains("plugins: \n"), "nothing was left: \(full)")
        #expect(full.contains("grants: \n"), "\(full)")
        // The permission summary comes before the error, as it was printed.
        let summary = try #require(full.range(of: "will be allowed to:"))
        let said = try #require(full.range(of: "Error: "), "\(full)")
        #expect(summary.lowerBound < said.lowerBound, "\(full)")

        let readOnly = try Self.onSmallDisk(
            home,
            """
            mount -o remount,ro "$H"
            "$L" plugin install "\(source)" --yes; echo "status=$?"
            """
        )
        #expect(readOnly.contains("Error: not installed: "), "\(readOnly)")
        #expect(readOnly.contains("Read-only file system"), "\(readOnly)")
        #expect(readOnly.contains("status=1"))

        let sign = try Self.onSmallDisk(
            home,
            """
            echo "Be brief." > "$H/workspace/LocalGPT.md"
            fill
            "$L" md sign; echo "status=$?"
            """
        )
        let manifest = home.paths.workspace + "/.localgpt_manifest.json"
        #expect(sign.contains("Error: cannot write \(manifest): No space left on device\n"), "\(sign)")
        #expect(sign.components(separatedBy: manifest).count == 2, "the path once: \(sign)")
        #expect(sign.contains("status=1"))
    }
}

extension MDCLITests.Home {
    /// `args` run under strace, which kills the process with SIGKILL on entering its `n`th `rename`
    /// (before the rename happens). Returns whether it was killed (false: it made fewer renames).
    func runKilled(atRename n: Int, _ args: String...) throws -> Bool {
        let r = try TestSupport.run(
            HomeFilesCLITests.strace,
            [
                "-f", "-o", "/dev/null", "-e", "inject=rename:signal=SIGKILL:when=\(n)",
                TestSupport.localgptExecutable,
            ]
                + args,
            environment: environment
        )
        return r.status == SIGKILL  // strace ends itself with the signal that ended the process
    }

    /// Starts every command at once, as separate processes, and waits for all of them.
    func runAtOnce(_ commands: [[String]]) throws -> [(status: Int32, stdout: String, stderr: String)] {
        let outputs = TestSupport.makeTemporaryDirectory("lgpt-at-once")
        var processes: [Process] = []
        for (i, args) in commands.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.localgptExecutable)
            p.arguments = args
            p.environment = environment
            p.standardInput = FileHandle.nullDevice
            for stream in ["out", "err"] {
                _ = FileManager.default.createFile(atPath: "\(outputs)/\(i).\(stream)", contents: nil)
            }
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(outputs)/\(i).out"))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(outputs)/\(i).err"))
            processes.append(p)
        }
        for p in processes { try p.run() }
        for p in processes { p.waitUntilExit() }
        return try processes.enumerated().map { i, p in
            (
                p.terminationStatus, try String(contentsOfFile: "\(outputs)/\(i).out", encoding: .utf8),
                try String(contentsOfFile: "\(outputs)/\(i).err", encoding: .utf8)
            )
        }
    }

    /// The grants as stored, verified with the device key.
    func grants() throws -> [String: PluginGrant] {
        try PluginGrantStore(path: paths.grantsFile, key: DeviceKey.load(from: paths.deviceKey)).load()
    }

    /// The hidden entries of a folder (leftovers of installs, temporary files).
    func hiddenEntries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.hasPrefix(".") && !$0.hasSuffix(".lock")
        }.sorted()
    }
}
