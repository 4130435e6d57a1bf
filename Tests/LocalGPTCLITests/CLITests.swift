//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import LocalGPTTesting
import Testing

/// Runs the built `localgpt` binary end to end, with its own home and bundled-plugin folder.
@Suite struct CLITests {
    static let bundled: String = {
        let dir = TestSupport.makeTemporaryDirectory("lgpt-cli-bundled")
        do {
            try TestSupport.stageBundledPlugins(into: dir)
        } catch {
            Issue.record("staging the bundled plugins failed: \(error)")
        }
        return dir
    }()

    struct Home {
        let path = TestSupport.makeTemporaryDirectory("lgpt-cli-home")

        var environment: [String: String] {
            [
                "LOCALGPT_HOME": path,
                "LOCALGPT_BUNDLED_PLUGINS": CLITests.bundled,
                "PATH": "/usr/bin:/bin",
                "HOME": path,
                "COLUMNS": "100",
            ]
        }

        @discardableResult
        func run(
            _ args: String...,
            input: String? = nil,
            env: [String: String] = [:]
        ) throws -> (status: Int32, stdout: String, stderr: String) {
            try TestSupport.run(
                TestSupport.localgptExecutable,
                args,
                environment: environment.merging(env) { $1 },
                input: input
            )
        }
    }

    @Test func versionNamesTheABI() throws {
        let r = try Home().run("--version")
        #expect(r.status == 0)
        #expect(r.stdout == "localgpt \(LocalGPTVersion.current) (plugin ABI 1.0)\n")
    }

    /// libcurl and OpenBLAS are opened on first use, not at start-up (docs/PERFORMANCE.md): the
    /// dynamic linker's own trace of `--version` and `plugin list` names neither.
    @Test func startUpLoadsNeitherLibcurlNorOpenBLAS() throws {
        let home = Home()
        for args in [["--version"], ["plugin", "list"]] {
            var environment = home.environment
            environment["LD_DEBUG"] = "files"
            let r = try TestSupport.run(TestSupport.localgptExecutable, args, environment: environment)
            #expect(r.status == 0, "\(args): \(r.stderr.suffix(500))")
            #expect(r.stderr.contains("file=libc.so.6"), "LD_DEBUG gave no trace: \(r.stderr.prefix(300))")
            #expect(!r.stderr.contains("libcurl"), "\(args) loaded libcurl")
            #expect(!r.stderr.contains("libopenblas"), "\(args) loaded OpenBLAS")
        }
    }

    @Test func versionFastPathLeavesOtherArgumentsToTheParser() throws {
        let home = Home()
        let help = try home.run("--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: localgpt <subcommand>"), "\(help.stdout.prefix(300))")
    }

    @Test func initCreatesHomeConfigAndWorkspace() throws {
        let home = Home()
        let r = try home.run("init")
        #expect(r.status == 0)
        #expect(FileManager.default.fileExists(atPath: home.path + "/config.toml"))
        #expect(FileManager.default.fileExists(atPath: home.path + "/workspace"))
        let paths = try home.run("paths")
        #expect(paths.stdout.contains("config:      \(home.path)/config.toml"))
    }

    @Test func pluginListJSONShowsBundledPlugins() throws {
        let r = try Home().run("plugin", "list", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONValue(parsing: r.stdout)
        let plugins = try #require(doc["plugins"]?.arrayValue)
        let byID = Dictionary(uniqueKeysWithValues: plugins.map { ($0["id"]?.stringValue ?? "", $0) })
        let sysinfo = try #require(byID["org.localgpt.sysinfo"])
        #expect(sysinfo["version"] == "0.1.0")
        #expect(sysinfo["kinds"] == ["tool"])
        #expect(sysinfo["origin"] == "bundled")
        #expect(sysinfo["permissions"]?["granted"]?["exec"]?["commands"] == ["df"])
        #expect(sysinfo["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.contains("system_info") == true)
        let text = try #require(byID["org.localgpt.text"])
        #expect(text["tools"]?.arrayValue?.count == 3)
        let tools = try #require(byID["org.localgpt.tools"])
        #expect(tools["permissions"]?["granted"]?["exec"]?["commands"] == ["bash"])
        let providers = try #require(byID["org.localgpt.providers"])
        #expect(providers["kinds"] == ["provider"])
        #expect(doc["errors"] == [])
    }

    @Test func toolCallPrintsTheResultAndRejectsBadArguments() throws {
        let home = Home()
        let ok = try home.run("tool", "call", "calculate", "--args", #"{"expression":"6*7"}"#)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try JSONValue(parsing: ok.stdout)["result"]?.doubleValue == 42)
        let bad = try home.run("tool", "call", "calculate", "--args", #"{"expression": 42}"#)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("$.expression: expected string, got integer"))
        let list = try home.run("tool", "list")
        #expect(list.stdout.contains("org.localgpt.sysinfo/system_info"))
    }

    /// With no plugin tools, `tool list` printed nothing at all and exited 0.
    @Test func toolListSaysWhenThereIsNoTool() throws {
        let home = Home()
        let empty = home.path + "/no-plugins"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let r = try home.run("tool", "list", env: ["LOCALGPT_BUNDLED_PLUGINS": empty])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "No plugin tools: no loaded plugin provides one (see `localgpt plugin list`).\n")
        let json = try home.run("tool", "list", "--json", env: ["LOCALGPT_BUNDLED_PLUGINS": empty])
        #expect(try JSONValue(parsing: json.stdout) == [])
    }

    @Test func brokenPluginInConfigPathsLeavesTheOthersLoaded() throws {
        let home = Home()
        try home.run("init")
        let broken = home.path + "/broken"
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        try "{ not json".write(toFile: broken + "/plugin.json", atomically: true, encoding: .utf8)
        try home.run("config", "set", "plugins.paths", #"["broken"]"#)
        let r = try home.run("plugin", "list")
        #expect(r.status == 0)
        #expect(r.stdout.contains("org.localgpt.text 0.1.0"))
        #expect(r.stdout.contains("FAILED \(broken)/plugin.json: "))
        #expect(r.stderr.contains("plugin not loaded"))
    }

    @Test func configSetKeepsCommentsAndGetReadsBack() throws {
        let home = Home()
        try home.run("config", "init")
        #expect(try home.run("config", "set", "agent.default_model", "openai/gpt-4o").status == 0)
        #expect(try home.run("config", "get", "agent.default_model").stdout == "openai/gpt-4o\n")
        #expect(try home.run("config", "set", "sysinfo.greeting", "hi there").status == 0)
        #expect(try home.run("config", "get", "sysinfo.greeting").stdout == "hi there\n")
        let text = try String(contentsOfFile: home.path + "/config.toml", encoding: .utf8)
        #expect(text.contains("# The model to chat with."))
        #expect(text.contains("greeting = \"hi there\""))
        // A value that is not a TOML literal is stored as a string.
        #expect(try home.run("config", "set", "sysinfo.note", "[unclosed").status == 0)
        #expect(try home.run("config", "get", "sysinfo.note").stdout == "[unclosed\n")
        // An edit that would make the file invalid (agent.default_model is a string, not a table)
        // is refused and the file is left exactly as it was.
        let before = try String(contentsOfFile: home.path + "/config.toml", encoding: .utf8)
        let bad = try home.run("config", "set", "agent.default_model.size", "1")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("would make config.toml invalid"))
        #expect(try String(contentsOfFile: home.path + "/config.toml", encoding: .utf8) == before)
        #expect(try home.run("config", "set", "bad..key", "1").stderr.contains("invalid key"))
        #expect(try home.run("config", "get", "nope.missing").status != 0)
    }

    @Test func configShowRedactsSecrets() throws {
        let home = Home()
        try home.run("config", "init")
        try home.run("config", "set", "secrets.MY_API_KEY", "sk-very-secret")
        let show = try home.run("config", "show")
        #expect(show.status == 0)
        #expect(!show.stdout.contains("sk-very-secret"))
        #expect(show.stdout.contains("********"))
        #expect(!(try home.run("config", "show", "--format", "toml").stdout.contains("sk-very-secret")))
        // A table holding a key shows it hidden; `get` of the key itself too.
        try home.run("config", "set", "providers.openai.api_key", "sk-provider-secret")
        for key in ["providers", "providers.openai", "providers.openai.api_key", "secrets"] {
            let get = try home.run("config", "get", key)
            #expect(get.status == 0, "\(key)")
            #expect(!get.stdout.contains("secret\""), "\(key): \(get.stdout)")
            #expect(get.stdout.contains("********"), "\(key)")
        }
    }

    @Test func installListAndRemoveAThirdPartyPlugin() throws {
        let home = Home()
        let src = TestSupport.makeTemporaryDirectory("lgpt-thirdparty")
        var f = FixturePlugin(id: "org.example.fixture")
        f.permissions = ["exec": ["commands": ["echo"]], "config": ["fixture"]]
        try f.build(in: src)

        let refused = try home.run("plugin", "install", src)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("pass --yes"))

        let install = try home.run("plugin", "install", src, "--yes", "--deny", "config")
        #expect(install.status == 0, "\(install.stderr)")
        #expect(install.stdout.contains("run commands: echo"))
        #expect(
            install.stdout.contains(
                "will be allowed to:\n    - run commands: echo\n  withheld (--deny):\n    - read config"
            )
        )
        let list = try JSONValue(parsing: try home.run("plugin", "list", "--json").stdout)
        let installed = try #require(list["plugins"]?.arrayValue?.first { $0["id"] == "org.example.fixture" })
        #expect(installed["origin"] == "user")
        #expect(installed["permissions"]?["granted"]?["exec"]?["commands"] == ["echo"])
        #expect(installed["permissions"]?["granted"]?["config"] == [])
        #expect(try home.run("plugin", "install", src, "--yes").stderr.contains("already installed"))

        let echo = try home.run("tool", "call", "org.example.fixture/echo", "--args", #"{"a":1}"#)
        #expect(echo.status == 0)

        #expect(try home.run("plugin", "remove", "org.example.fixture").status == 0)
        let after = try JSONValue(parsing: try home.run("plugin", "list", "--json").stdout)
        #expect(after["plugins"]?.arrayValue?.contains { $0["id"] == "org.example.fixture" } == false)
        #expect(try home.run("plugin", "remove", "org.localgpt.text").status != 0)
    }

    /// Install copies the plugin (plugin.json and its library, as a regular file), not the author's
    /// build folder, and not a symbolic link that would leave the installed plugin depending on a
    /// file outside its folder. Withheld permissions are shown as such, and a call that needs one is
    /// told the user withheld it, not to declare it.
    @Test func installCopiesThePluginAndSaysWhatWasWithheld() throws {
        let home = Home()
        let build = TestSupport.makeTemporaryDirectory("lgpt-author-build")
        var f = FixturePlugin(id: "org.example.author")
        f.permissions = ["exec": ["commands": ["echo"]]]
        // A tool named as a bundled one (org.localgpt.text's calculate).
        guard case .object(var m) = f.manifest, var tools = m["tools"]?.arrayValue else { return }
        tools.append(["name": "calculate", "description": "clashes", "parameters": ["type": "object"]])
        m["tools"] = .array(tools)
        f.manifestOverride = .object(m)
        try f.build(in: build)
        let src = TestSupport.makeTemporaryDirectory("lgpt-author-package")
        try FileManager.default.createDirectory(atPath: src + "/junk", withIntermediateDirectories: true)
        try "int main(void) { return 0; }\n".write(toFile: src + "/notes.c", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: build + "/plugin.json", toPath: src + "/plugin.json")
        try FileManager.default.createSymbolicLink(
            atPath: src + "/libfixture.so",
            withDestinationPath: build + "/libfixture.so"
        )

        let install = try home.run("plugin", "install", src, "--yes", "--deny", "exec")
        #expect(install.status == 0, "\(install.stderr)")
        #expect(install.stdout.contains("will be allowed nothing"), "\(install.stdout)")
        #expect(install.stdout.contains("withheld (--deny):\n    - run commands: echo"), "\(install.stdout)")
        #expect(
            install.stdout.contains("note: org.localgpt.text also offers a tool named calculate"),
            "\(install.stdout)"
        )
        let target = home.path + "/plugins/org.example.author"
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["libfixture.so", "plugin.json"]
        )
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: target + "/libfixture.so")) == nil)
        // The installed plugin no longer needs the author's build.
        try FileManager.default.removeItem(atPath: build)
        let request = #"{\"argv\":[\"echo\",\"hi\"]}"#
        let call = try home.run("tool", "call", "org.example.author/host_exec", "--args", #"{"request":"\#(request)"}"#)
        #expect(call.status == 0, "\(call.stderr)")
        #expect(
            call.stdout.contains(
                "the manifest declares it in permissions.exec.commands, but the user's grant withholds it"
            ),
            "\(call.stdout)"
        )
        // Installing again names both versions.
        let again = try home.run("plugin", "install", src, "--yes")
        #expect(again.stderr.contains("org.example.author 1.0.0 is already installed"), "\(again.stderr)")
    }

    @Test func aPluginsCodeRunsOnlyAfterConsentAndOnlyWithTheGrant() throws {
        let home = Home()
        try home.run("config", "init")
        try home.run("config", "set", "fixture.probe", "x")
        let src = TestSupport.makeTemporaryDirectory("lgpt-consent")
        var f = FixturePlugin(id: "org.example.consent")
        f.permissions = ["config": ["fixture"]]
        f.defines = ["FIXTURE_CREATE_PROBE"]
        try f.build(in: src)
        // No consent (not a terminal, no --yes): the library is never loaded.
        let refused = try home.run("plugin", "install", src)
        #expect(refused.status != 0)
        #expect(!refused.stderr.contains("fixture create probe"), "\(refused.stderr)")
        // An unknown kind is refused before anything runs, with the command's own message.
        let bad = try home.run("plugin", "install", src, "--yes", "--deny", "bogus")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--deny takes exec, net, fs, memory, secrets or config, not bogus"))
        #expect(!bad.stderr.contains("fixture create probe"))
        // create() runs with the grant: config denied, the call refused (-4).
        let denied = try home.run("plugin", "install", src, "--yes", "--deny", "config")
        #expect(denied.status == 0, "\(denied.stderr)")
        #expect(denied.stderr.contains("fixture create probe: config_get status=-4"), "\(denied.stderr)")
        let granted = try home.run("plugin", "install", src, "--yes", "--force")
        #expect(granted.status == 0, "\(granted.stderr)")
        #expect(granted.stderr.contains("fixture create probe: config_get status=0"), "\(granted.stderr)")
    }

    /// What the install asks consent for is shown with control characters made visible: a manifest
    /// could move the cursor up and erase "run commands: bash" before the question.
    @Test func theConsentTextCannotDriveTheTerminal() throws {
        let home = Home()
        let src = TestSupport.makeTemporaryDirectory("lgpt-esc")
        var f = FixturePlugin(id: "org.example.esc")
        f.permissions = ["exec": ["commands": ["bash"]], "config": [.string("weather\u{1B}[3A\r\u{1B}[J")]]
        try f.build(in: src)
        let r = try home.run("plugin", "install", src, "--yes")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}") && !r.stdout.contains("\r"), "\(r.stdout.debugDescription)")
        #expect(r.stdout.contains("run commands: bash"))
        #expect(r.stdout.contains("weather\u{FFFD}[3A\u{FFFD}\u{FFFD}[J"), "\(r.stdout.debugDescription)")
    }

    @Test func installRefusesABrokenPluginAndCopiesNothing() throws {
        let home = Home()
        let src = TestSupport.makeTemporaryDirectory("lgpt-broken")
        var f = FixturePlugin(id: "org.example.broken")
        f.defines = ["FIXTURE_CREATE_FAIL"]
        try f.build(in: src)
        let r = try home.run("plugin", "install", src, "--yes")
        #expect(r.status != 0)
        #expect(r.stderr.contains("create() failed"))
        #expect(!FileManager.default.fileExists(atPath: home.path + "/plugins/org.example.broken"))
    }
}
