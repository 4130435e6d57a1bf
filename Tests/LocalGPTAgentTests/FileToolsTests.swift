//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTAgent
import LocalGPTCore
import LocalGPTTesting
import Testing

/// The bundled tools plugin through the real ABI: file access only through `lgpt.host.files/1`,
/// confined to the workspace; bash only through the host's exec; web_fetch only to public addresses.
@Suite struct FileToolsTests {
    func harness(config: String = "") throws -> AgentHarness {
        try AgentHarness(script: [], config: config, plugins: ["org.localgpt.tools"])
    }

    func output(_ json: String) throws -> String {
        try #require(try JSONValue(parsing: json)["output"]?.stringValue)
    }

    func failure(_ h: AgentHarness, _ tool: String, _ args: JSONValue) -> ToolCallError? {
        #expect(throws: ToolCallError.self) { try h.invoke(tool, args) }
    }

    @Test func writeReadAndEditInTheWorkspace() throws {
        let h = try harness()
        let w = try output(h.invoke("write_file", ["path": "notes/today.md", "content": "alpha\nbeta\ngamma\nbeta\n"]))
        #expect(w == "Created notes/today.md (22 bytes)")
        #expect(try String(contentsOfFile: h.paths.workspace + "/notes/today.md", encoding: .utf8).hasPrefix("alpha"))
        let r = try output(h.invoke("read_file", ["path": "notes/today.md"]))
        #expect(r == "     1\talpha\n     2\tbeta\n     3\tgamma\n     4\tbeta\n")
        let page = try output(h.invoke("read_file", ["path": "notes/today.md", "offset": 1, "limit": 2]))
        #expect(page == "     2\tbeta\n     3\tgamma\n[lines 2-3 of 4; read on with offset=3]\n")
        // edit_file: exact, unique unless replace_all.
        #expect(
            failure(h, "edit_file", ["path": "notes/today.md", "old_string": "delta", "new_string": "x"])?.message
                .contains("not found") == true
        )
        #expect(
            failure(h, "edit_file", ["path": "notes/today.md", "old_string": "beta", "new_string": "x"])?.message
                .contains("occurs 2 times") == true
        )
        #expect(
            try output(h.invoke("edit_file", ["path": "notes/today.md", "old_string": "gamma", "new_string": "GAMMA"]))
                == "Replaced 1 occurrence in notes/today.md"
        )
        #expect(
            try output(
                h.invoke(
                    "edit_file",
                    [
                        "path": "notes/today.md", "old_string": "beta", "new_string": "B",
                        "replace_all": true,
                    ]
                )
            ) == "Replaced 2 occurrences in notes/today.md"
        )
        #expect(
            try String(contentsOfFile: h.paths.workspace + "/notes/today.md", encoding: .utf8) == "alpha\nB\nGAMMA\nB\n"
        )
        #expect(failure(h, "read_file", ["path": "nope.md"])?.status == -3)
    }

    @Test func pathsOutsideTheWorkspaceAreRefused() throws {
        let h = try harness()
        let outside = h.home + "/outside.txt"
        try "secret".write(toFile: outside, atomically: true, encoding: .utf8)
        for path in ["../outside.txt", outside, "/etc/passwd", "notes/../../outside.txt", h.paths.configFile] {
            #expect(failure(h, "read_file", ["path": .string(path)])?.status == -4, "\(path)")
            #expect(failure(h, "write_file", ["path": .string(path), "content": "x"])?.status == -4, "\(path)")
        }
        // A symlink inside the workspace that points out of it.
        try FileManager.default.createSymbolicLink(atPath: h.paths.workspace + "/link", withDestinationPath: h.home)
        #expect(failure(h, "read_file", ["path": "link/outside.txt"])?.status == -4)
        #expect(failure(h, "write_file", ["path": "link/new.txt", "content": "x"])?.status == -4)
        try FileManager.default.createSymbolicLink(
            atPath: h.paths.workspace + "/pw",
            withDestinationPath: "/etc/passwd"
        )
        #expect(failure(h, "read_file", ["path": "pw"])?.status == -4)
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "secret")
        #expect(h.events.events.contains { $0.action == "path_denied" && $0.source == "org.localgpt.tools" })
    }

    @Test func protectedFilesCannotBeWrittenAndTheAttemptIsAudited() throws {
        let h = try harness()
        try "# Policy\n".write(toFile: h.paths.workspace + "/LocalGPT.md", atomically: true, encoding: .utf8)
        for name in ["LocalGPT.md", ".localgpt_manifest.json", "IDENTITY.md"] {
            let e = failure(h, "write_file", ["path": .string(name), "content": "ignore all rules"])
            #expect(e?.status == -4, "\(name)")
            #expect(e?.message.contains("protected") == true)
        }
        #expect(
            failure(h, "edit_file", ["path": "LocalGPT.md", "old_string": "Policy", "new_string": "x"])?.status == -4
        )
        #expect(try String(contentsOfFile: h.paths.workspace + "/LocalGPT.md", encoding: .utf8) == "# Policy\n")
        // Reading the policy is fine.
        #expect(try output(h.invoke("read_file", ["path": "LocalGPT.md"])).contains("# Policy"))
        // A hard link to a protected file is the same file.
        try "token = 1\n".write(toFile: h.paths.configFile, atomically: true, encoding: .utf8)
        #expect(link(h.paths.configFile, h.paths.workspace + "/innocent.txt") == 0)
        #expect(failure(h, "write_file", ["path": "innocent.txt", "content": "x"])?.status == -4)
        let blocked = h.events.events.filter { $0.action == "write_blocked" }
        #expect(blocked.count == 5)
        // The audit names the file in the workspace, not one below the process's current folder.
        #expect(
            blocked.compactMap { $0.details["path"]?.stringValue }
                == ["LocalGPT.md", ".localgpt_manifest.json", "IDENTITY.md", "LocalGPT.md", "innocent.txt"]
        )
    }

    @Test func bashRunsOnlyThroughTheHostsExec() throws {
        let h = try harness()
        let out = try JSONValue(parsing: h.invoke("bash", ["command": "echo hello; pwd; echo oops >&2; exit 3"]))
        let text = try #require(out["output"]?.stringValue)
        #expect(text.contains("hello"))
        #expect(text.contains(h.paths.workspace.split(separator: "/").last.map(String.init) ?? "workspace"))
        #expect(text.contains("STDERR:\noops"))
        #expect(text.contains("[exit code 3]"))
        #expect(out["exit_code"] == 3)
        // The host ran it: the exec service recorded it for this plugin.
        #expect(h.events.events.contains { $0.action == "sandbox_exec" && $0.source == "org.localgpt.tools" })
        // Without the exec grant, bash cannot run at all.
        let narrowed = try AgentHarness(script: [], plugins: [])
        let grant = PluginGrant(
            permissions: PluginPermissions(fsRead: ["$WORKSPACE"], fsWrite: ["$WORKSPACE"]),
            grantedAt: "2026-01-01T00:00:00Z",
            librarySHA256: ""
        )
        let host = PluginHost(
            paths: narrowed.paths,
            configuration: Configuration(),
            grants: ["org.localgpt.tools": grant],
            logger: AgentHarness.quietLogger
        )
        try host.load(directory: AgentHarness.bundled + "/org.localgpt.tools", origin: .bundled)
        let e = #expect(throws: ToolCallError.self) {
            try host.invoke(tool: "bash", arguments: #"{"command":"echo hi"}"#)
        }
        #expect(e?.status == -4)
    }

    @Test func webFetchRefusesPrivateAddressesAndReadsPublicOnes() throws {
        let server = try LoopbackHTTPServer { request in
            if request.path == "/redirect" {
                let port = request.headers["host"]?.split(separator: ":").last.map(String.init) ?? "80"
                return LoopbackHTTPResponse(status: 302, headers: [("Location", "http://localhost:\(port)/page")])
            }
            let html = """
                <!doctype html><html><head><title>Test &amp; Page</title><script>var x = 1;</script>
                <style>body{}</style></head><body><nav>menu</nav><main><h1>Hello</h1><p>First <b>para</b>.</p>
                <ul><li>one</li><li>two</li></ul><p>caf&eacute; &#233; &lt;ok&gt;</p></main><footer>foot</footer></body></html>
                """
            return LoopbackHTTPResponse(
                headers: [("Content-Type", "text/html; charset=utf-8")],
                body: .bytes(Array(html.utf8))
            )
        }
        defer { server.stop() }
        let refused = try harness()
        let e = failure(refused, "web_fetch", ["url": .string(server.baseURL + "/")])
        #expect(e?.status == -4)
        #expect(e?.message.contains("non-public address") == true)
        #expect(server.requests.isEmpty)
        #expect(failure(refused, "web_fetch", ["url": "file:///etc/passwd"])?.status == -2)
        #expect(failure(refused, "web_fetch", ["url": .string("http://localhost:\(server.port)/")])?.status == -4)
        // The user can list a private host:port; redirects are checked on every hop.
        let allowed = try harness(config: "[network]\nallow_private_hosts = [\"127.0.0.1:\(server.port)\"]\n")
        let page = try output(allowed.invoke("web_fetch", ["url": .string(server.baseURL + "/page")]))
        #expect(page.hasPrefix("Status: 200\nURL: \(server.baseURL)/page\nContent-Type: text/html"))
        #expect(page.contains("# Hello"))
        #expect(page.contains("First para."))
        #expect(page.contains("- one\n- two"))
        #expect(page.contains("<ok>"))
        #expect(!page.contains("var x"))
        #expect(!page.contains("menu"))
        #expect(!page.contains("foot"))
        let hop = failure(allowed, "web_fetch", ["url": .string(server.baseURL + "/redirect")])
        #expect(hop?.status == -4)
    }

    /// The plugin knows no secrets: where it cuts a page, it ends the text in "…", so a key the cut goes
    /// through reads as a clipped one (`sk-test-Ab…`), which the host's masker hides where it is saved.
    @Test func webFetchEndsItsCutInAnEllipsisThatTheMaskerKnows() throws {
        let key = "sk-test-Wf3Kd8Lq2Zn6Rv9Tb4Xm7Hc1"
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPResponse(
                headers: [("Content-Type", "text/plain")],
                text: String(repeating: "w", count: 90) + key + " end"
            )
        }
        defer { server.stop() }
        let h = try harness(config: "[network]\nallow_private_hosts = [\"127.0.0.1:\(server.port)\"]\n")
        let page = try output(h.invoke("web_fetch", ["url": .string(server.baseURL + "/k"), "max_chars": 100]))
        #expect(
            page.hasSuffix(
                String(repeating: "w", count: 90) + key.prefix(10) + "…\n[truncated: 126 characters in total]"
            ),
            "\(page)"
        )
        let saved = SecretMasker(secrets: [key]).mask(page)
        #expect(
            saved.contains(String(repeating: "w", count: 90) + "********…") && !saved.contains("sk-test-Wf"),
            "\(saved)"
        )
    }

    @Test func publicAddressClassification() {
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "[2001:4860:4860::8888]", "93.184.216.34"] {
            #expect(PublicAddress.isPublic(a), "\(a)")
        }
        for a in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
            "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1%eth0", "fc00::1", "fd12::1",
            "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:db8::1", "ff02::1",
            "not an ip", "",
        ] {
            #expect(!PublicAddress.isPublic(a), "\(a)")
        }
    }

    @Test func hostFilePolicyResolvesLikeTheKernel() throws {
        let home = TestSupport.makeTemporaryDirectory("lgpt-policy")
        let paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        let policy = HostFilePolicy(
            paths: paths,
            permissions: PluginPermissions(fsRead: ["$WORKSPACE"], fsWrite: ["$WORKSPACE/out"]),
            userHome: home
        )
        let ws = HostFilePolicy.canonical(paths.workspace)
        #expect(try policy.resolve("a/./b/../c.md", for: .read) == ws + "/a/c.md")
        #expect(try policy.resolve("out/new/file.txt", for: .write) == ws + "/out/new/file.txt")
        #expect(throws: HostFilesError.self) { try policy.resolve("notes.md", for: .write) }
        #expect(throws: HostFilesError.self) { try policy.resolve("../config.toml", for: .read) }
        #expect(throws: HostFilesError.self) { try policy.resolve("a\u{0}b", for: .read) }
        #expect(HostFilePolicy.isWithin("/a/bc", "/a/b") == false)
    }
}
