//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Testing

/// Protected files are matched by what a path resolves to, never by a bare name.
@Suite struct SecurityProtectedPathsTests {
    let home: SecurityHome
    let protected: ProtectedPaths
    let userHome: String

    init() throws {
        home = try SecurityHome()
        userHome = TestSupport.makeTemporaryDirectory("lgpt-user")
        protected = ProtectedPaths(paths: home.paths, userHome: userHome)
        try home.writePolicy("- rule\n")
    }

    var workspace: String { home.paths.workspace }

    @Test func everyProtectedFileIsListed() {
        #expect(ProtectedPaths.Kind.allCases.count == 7)
        #expect(protected.files.map(\.kind) == ProtectedPaths.Kind.allCases)
        #expect(protected.files.contains { $0.path == home.paths.configFile && $0.kind == .config })
    }

    @Test(arguments: [
        ("LocalGPT.md", ProtectedPaths.Kind.policy),
        ("./LocalGPT.md", .policy),
        ("memory/../LocalGPT.md", .policy),
        (".localgpt_manifest.json", .manifest),
        ("IDENTITY.md", .identity),  // does not exist yet: protected by location
        ("../.device_key", .deviceKey),
        ("../.security_audit.jsonl", .auditLog),
        ("../config.toml", .config),
        ("../grants.json", .grants),
    ])
    func relativePathsFromTheWorkspaceAreProtected(path: String, kind: ProtectedPaths.Kind) {
        #expect(protected.protectedFile(for: path, workingDirectory: workspace)?.kind == kind)
    }

    @Test func sameNameElsewhereIsNotProtected() throws {
        let other = TestSupport.makeTemporaryDirectory("lgpt-project")
        for name in ["LocalGPT.md", "IDENTITY.md", "config.toml", ".device_key", "grants.json"] {
            #expect(FileManager.default.createFile(atPath: other + "/" + name, contents: Data("x".utf8)))
            #expect(protected.protectedFile(for: name, workingDirectory: other) == nil, "\(name)")
            #expect(protected.protectedFile(for: other + "/" + name, workingDirectory: "/") == nil, "\(name)")
        }
        #expect(protected.protectedFile(for: "memory/IDENTITY.md", workingDirectory: workspace) == nil)
    }

    @Test func absoluteAndTildePaths() {
        #expect(protected.protectedFile(for: home.paths.policyFile, workingDirectory: "/")?.kind == .policy)
        let tildeHome = ProtectedPaths(paths: LocalGPTPaths(home: userHome + "/.localgpt"), userHome: userHome)
        #expect(tildeHome.protectedFile(for: "~/.localgpt/config.toml", workingDirectory: "/")?.kind == .config)
    }

    @Test func symlinkToAProtectedFileIsProtected() throws {
        let link = workspace + "/notes.md"
        symlink(home.paths.policyFile, link)
        #expect(protected.protectedFile(for: "notes.md", workingDirectory: workspace)?.kind == .policy)
        // A symlinked folder leading into the home.
        let outside = TestSupport.makeTemporaryDirectory("lgpt-out")
        symlink(home.paths.home, outside + "/h")
        #expect(
            protected.protectedFile(for: outside + "/h/workspace/LocalGPT.md", workingDirectory: "/")?.kind == .policy
        )
        #expect(protected.protectedFile(for: "h/config.toml", workingDirectory: outside)?.kind == .config)
    }

    @Test func danglingSymlinkToAProtectedLocationIsProtected() {
        // IDENTITY.md does not exist; writing through the link would create it.
        symlink(home.paths.identityFile, workspace + "/me.md")
        #expect(protected.protectedFile(for: "me.md", workingDirectory: workspace)?.kind == .identity)
    }

    @Test func hardLinkToAProtectedFileIsProtected() throws {
        let other = TestSupport.makeTemporaryDirectory("lgpt-hl")
        // Same file system as the home (both under the temporary folder).
        guard link(home.paths.policyFile, other + "/copy.md") == 0 else {
            Issue.record("link failed: \(errno)")
            return
        }
        #expect(protected.protectedFile(for: other + "/copy.md", workingDirectory: "/")?.kind == .policy)
    }

    @Test func checkWriteRefusesAndAuditsWriteBlocked() throws {
        let audit = home.audit
        for tool in ["write_file", "edit_file"] {
            let error = #expect(throws: SecurityError.self) {
                try protected.checkWrite("LocalGPT.md", tool: tool, workingDirectory: workspace, audit: audit)
            }
            #expect(error?.code == .protectedPath)
            #expect(error?.message.contains("\(tool) refused: LocalGPT.md is LocalGPT.md") == true)
            #expect(error?.message.contains("localgpt md sign") == true)
        }
        try protected.checkWrite("notes/today.md", tool: "write_file", workingDirectory: workspace, audit: audit)
        let entries = try home.auditEntries()
        #expect(entries.map(\.action) == [.writeBlocked, .writeBlocked])
        #expect(entries.map(\.source) == ["tool:write_file", "tool:edit_file"])
        #expect(entries[0].details["protected"] == "policy")
        #expect(entries[0].details["path"] == "LocalGPT.md")
    }

    @Test(arguments: [
        "echo hi > LocalGPT.md",
        "echo hi >>LocalGPT.md",
        "sed -i 's/a/b/' './IDENTITY.md'",
        "cat ../.device_key | base64",
        "cp /tmp/x \"$HOME/.localgpt/config.toml\"",
        "dd if=/dev/zero of=../grants.json bs=1 count=1",
        "rm -f Local*.md",
        "tee -a ${LOCALGPT_HOME}/.security_audit.jsonl",
        "truncate -s0 .localgpt_manifest.json;ls",
    ])
    func commandsNamingProtectedFilesAreRefused(command: String) throws {
        let paths = LocalGPTPaths(home: userHome + "/.localgpt")
        try paths.createDirectories()
        #expect(FileManager.default.createFile(atPath: paths.policyFile, contents: Data("x".utf8)))
        let p = ProtectedPaths(paths: paths, userHome: userHome)
        let audit = AuditLog(paths: paths, durability: .noSync)
        let error = #expect(throws: SecurityError.self) {
            try p.checkCommand(command, workingDirectory: paths.workspace, audit: audit)
        }
        #expect(error?.message.hasPrefix("bash refused: the command names ") == true)
        let entry = try #require(try audit.read().lines.last?.entry)
        #expect(entry.action == .writeBlocked)
        #expect(entry.source == "tool:bash")
        #expect(entry.details["command_sha256"]?.stringValue?.count == 64)
        #expect(!entry.line.contains(command))
    }

    @Test(arguments: [
        "cat ~/projects/app/LocalGPT.md",
        "echo IDENTITY.md",  // from another folder: a word, not this workspace's file
        "git status",
        "grep -r TODO .",
        "echo $SOMEVAR/LocalGPT.md",
    ])
    func ordinaryCommandsPass(command: String) throws {
        let project = TestSupport.makeTemporaryDirectory("lgpt-proj")
        try protected.checkCommand(command, workingDirectory: project, audit: nil)
    }

    @Test func shellWordSplitting() {
        #expect(
            ProtectedPaths(paths: home.paths).protectedFiles(
                inCommand: "echo 'a b' \"c\\\"d\" e\\ f>LocalGPT.md",
                workingDirectory: workspace
            ).map(\.kind) == [.policy]
        )
    }
}
