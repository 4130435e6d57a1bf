//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Where LocalGPT keeps its files. Everything lives under one home folder, `~/.localgpt/` by
/// default (the seeds' layout); `LOCALGPT_HOME` moves all of it (tests use that). The workspace
/// is `<home>/workspace` unless `LOCALGPT_WORKSPACE` (absolute) or `memory.workspace` moves it
/// (``resolvingWorkspace(configuration:environment:)``): then the memory, the system prompt's
/// files, the signed LocalGPT.md, the protected files and the sandbox's working folder all move
/// with it.
public struct LocalGPTPaths: Sendable, Equatable {
    /// The home folder (`~/.localgpt`).
    public var home: String
    /// The workspace: `<home>/workspace` unless moved.
    public var workspace: String

    public init(home: String, workspace: String? = nil) {
        self.home = home
        self.workspace = workspace ?? home + "/workspace"
    }

    /// The user's home folders, `~` first: `$HOME` when set, and the account's home (passwd) when it
    /// differs. A check that keeps credential folders closed looks in both; `~` means the first.
    public static func userHomes(environment: [String: String] = ProcessEnvironment.current) -> [String] {
        let account = NSHomeDirectory()
        guard let home = environment["HOME"], !home.isEmpty, home != account else { return [account] }
        return [home, account]
    }

    /// `<home>/workspace`, where the workspace is when nothing moves it.
    public var defaultWorkspace: String { home + "/workspace" }

    /// These paths with the workspace the user chose: the absolute `LOCALGPT_WORKSPACE`, else
    /// `memory.workspace` of config.toml (`~` or relative to the home accepted), else the one these
    /// paths have (the home's unless given). A relative `LOCALGPT_WORKSPACE` is ignored (the memory
    /// commands say so). Resolving twice gives the same paths.
    public func resolvingWorkspace(
        configuration: Configuration,
        environment: [String: String] = ProcessEnvironment.current
    ) -> LocalGPTPaths {
        var resolved = self
        if let w = environment["LOCALGPT_WORKSPACE"], w.hasPrefix("/") {
            resolved.workspace = Self.absolutePath(w)
        } else if let w = configuration.value(at: "memory.workspace")?.stringValue, !w.isEmpty {
            resolved.workspace = Self.absolutePath(w, relativeTo: home)
        }
        return resolved
    }

    /// Resolves the home from `LOCALGPT_HOME`, else `$HOME/.localgpt`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessEnvironment.current
    )
        -> LocalGPTPaths
    {
        if let explicit = environment["LOCALGPT_HOME"], !explicit.isEmpty {
            return LocalGPTPaths(home: absolutePath(explicit))
        }
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return LocalGPTPaths(home: userHome + "/.localgpt")
    }

    public var configFile: String { home + "/config.toml" }
    public var pluginsDirectory: String { home + "/plugins" }
    public var grantsFile: String { home + "/grants.json" }
    /// Plugin library hashes by file identity, signed with the device key (``LibraryHashCache``).
    public var libraryHashCache: String { home + "/plugin-hashes.json" }
    public var logsDirectory: String { home + "/logs" }
    public var agentLog: String { logsDirectory + "/agent.log" }
    public var deviceKey: String { home + "/.device_key" }
    public var auditLog: String { home + "/.security_audit.jsonl" }
    /// Where a sandboxed command's change to a protected file is kept after it is undone.
    public var blockedWritesDirectory: String { home + "/blocked-writes" }
    /// The protected-file guard's shared state: references, running commands, lock (``ProtectedFileGuard``).
    public var guardDirectory: String { home + "/guard" }

    /// Every path a user may want to know, in display order.
    public var all: [(name: String, path: String)] {
        [
            ("home", home), ("config", configFile), ("workspace", workspace), ("plugins", pluginsDirectory),
            ("grants", grantsFile), ("logs", logsDirectory), ("device key", deviceKey), ("audit log", auditLog),
            ("kept aside", blockedWritesDirectory),
        ]
    }

    /// Creates the home, workspace, plugins and logs folders (mode 0700) when missing.
    ///
    /// - Throws: ``ConfigurationError`` when a folder cannot be created.
    public func createDirectories() throws {
        for dir in [home, workspace, pluginsDirectory, logsDirectory] {
            try FileSystem.createDirectory(dir, mode: 0o700)
        }
    }

    /// `path` made absolute against the current directory, with `~` expanded.
    public static func absolutePath(_ path: String, relativeTo base: String? = nil) -> String {
        var p = path
        if p == "~" || p.hasPrefix("~/") {
            p = userHomes().first! + p.dropFirst()
        }
        if !p.hasPrefix("/") {
            let b = base ?? FileManager.default.currentDirectoryPath
            p = b + "/" + p
        }
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }
}

/// The process environment, for default arguments.
public enum ProcessEnvironment {
    public static var current: [String: String] { ProcessInfo.processInfo.environment }
}

extension LocalGPTPaths {
    /// Where the set-up script installs local models (outside any clone, shared by every home):
    /// `LOCALGPT_MODELS_DIR`, else `$XDG_CACHE_HOME/localgpt-swift/models`, else
    /// `~/.cache/localgpt-swift/models`.
    public static func modelsDirectory(environment: [String: String] = ProcessEnvironment.current) -> String {
        if let dir = environment["LOCALGPT_MODELS_DIR"], !dir.isEmpty { return absolutePath(dir) }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return cache + "/localgpt-swift/models"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/localgpt-swift/models"
    }
}
