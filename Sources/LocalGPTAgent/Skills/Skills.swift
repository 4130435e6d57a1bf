//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore

/// A skill: a `SKILL.md` with YAML front matter (`name`, `description`, `user-invocable`,
/// `disable-model-invocation`, `metadata.requires.bins/env`) in a folder of its own.
public struct Skill: Sendable, Equatable {
    public var name: String
    public var description: String
    /// The slash command: lower-case, non-alphanumerics as `-`, at most 32 characters.
    public var command: String
    /// The SKILL.md file.
    public var path: String
    /// `bundled` or `workspace`.
    public var source: String
    public var isUserInvocable: Bool
    public var isModelInvocable: Bool
    /// Why the skill cannot run here (a missing binary or variable), or nil when it can.
    public var blockedReason: String?

    public init(
        name: String,
        description: String,
        command: String,
        path: String,
        source: String,
        isUserInvocable: Bool,
        isModelInvocable: Bool,
        blockedReason: String?
    ) {
        self.name = name
        self.description = description
        self.command = command
        self.path = path
        self.source = source
        self.isUserInvocable = isUserInvocable
        self.isModelInvocable = isModelInvocable
        self.blockedReason = blockedReason
    }

    /// The instructions (SKILL.md without its front matter). `path` is canonical (discovery checked
    /// it stays in its skills folder): if it is not any more (a symbolic link put in its place, or in
    /// the place of a folder on the way), nothing is read.
    public func body() -> String {
        guard HostFilePolicy.canonical(path) == path,
            let bytes = AgentFileIO.read(path, limit: Skills.maxBytes, followingSymlinks: false)
        else { return "" }
        return Skills.split(String(decoding: bytes, as: UTF8.self)).body
    }
}

/// Finds skills: the bundled `skills/` folder (next to the binary or in the source tree), then
/// `<workspace>/skills/` (a workspace skill overrides a bundled one of the same name).
public enum Skills {
    /// Loads every skill, sorted by name.
    ///
    /// - Parameters:
    ///   - bundled: the bundled skills folder, if any.
    ///   - workspace: the workspace folder.
    ///   - environment: for `requires.env` and `PATH` lookups of `requires.bins`.
    /// - Returns: the skills, blocked ones included (with their reason).
    public static func discover(bundled: String?, workspace: String, environment: [String: String]) -> [Skill] {
        discoverReporting(bundled: bundled, workspace: workspace, environment: environment).skills
    }

    /// The largest SKILL.md read.
    static let maxBytes = 1 << 20

    /// ``discover(bundled:workspace:environment:)``, with what was skipped or shadowed and why, for
    /// the user to see (a skill that vanished in silence could not be fixed).
    ///
    /// A SKILL.md must stay inside its skills folder once symbolic links are resolved: the host reads
    /// it unsandboxed, and a link planted by a sandboxed command (`ln -s ../../config.toml
    /// skills/x/SKILL.md`) would otherwise hand any file of the machine to the model.
    public static func discoverReporting(
        bundled: String?,
        workspace: String,
        environment: [String: String]
    ) -> (skills: [Skill], problems: [String]) {
        var byName: [String: Skill] = [:]
        var problems: [String] = []
        for (dir, source) in [(bundled, "bundled"), (workspace + "/skills", "workspace")] {
            guard let dir else { continue }
            let root = HostFilePolicy.canonical(dir)
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            var seen: [String: String] = [:]
            for entry in entries {
                let file = dir + "/" + entry + "/SKILL.md"
                guard AgentFileIO.exists(file) || AgentFileIO.isSymlink(file) else { continue }
                let real = HostFilePolicy.canonical(file)
                guard HostFilePolicy.isWithin(real, root), real != root else {
                    problems.append("\(file) leads outside \(dir) (to \(real)): skipped")
                    continue
                }
                guard let bytes = AgentFileIO.read(real, limit: maxBytes, followingSymlinks: false) else {
                    problems.append("\(file) cannot be read (\(AgentFileIO.errnoText())): skipped")
                    continue
                }
                var skill = parse(
                    String(decoding: bytes, as: UTF8.self),
                    folder: entry,
                    path: real,
                    source: source,
                    environment: environment
                )
                if skill.command.isEmpty {
                    problems.append(
                        "\(file): the name \"\(skill.name)\" has no letter or digit to make a command of: skipped"
                    )
                    continue
                }
                if let problem = frontMatterProblem(String(decoding: bytes.prefix(4096), as: UTF8.self)) {
                    problems.append("\(file): \(problem)")
                }
                if let other = seen[skill.name] {
                    problems.append(
                        "two \(source) skills are named \"\(skill.name)\" (\(other) and \(file)): the second is used"
                    )
                }
                seen[skill.name] = file
                skill.path = real
                byName[skill.name] = skill
            }
        }
        return (byName.values.sorted { $0.name < $1.name }, problems)
    }

    /// Why the front matter was not read as written, if it was not.
    static func frontMatterProblem(_ text: String) -> String? {
        guard text.hasPrefix("---") else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
        if !lines.contains(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) {
            return "its front matter (after the first ---) is not closed by a --- line: read as text"
        }
        return nil
    }

    /// The bundled skills folder: `LOCALGPT_BUNDLED_SKILLS`, else `skills/` next to the binary, else a
    /// `skills/` folder beside a `Package.swift` above it (running from a source checkout).
    public static func bundledDirectory(executableDirectory: String, environment: [String: String]) -> String? {
        if let dir = environment["LOCALGPT_BUNDLED_SKILLS"], !dir.isEmpty { return dir }
        var dir = executableDirectory
        if AgentFileIO.exists(dir + "/skills") { return dir + "/skills" }
        for _ in 0..<5 {
            dir = (dir as NSString).deletingLastPathComponent
            if AgentFileIO.exists(dir + "/Package.swift") && AgentFileIO.exists(dir + "/skills") {
                return dir + "/skills"
            }
        }
        return nil
    }

    static func parse(
        _ text: String,
        folder: String,
        path: String,
        source: String,
        environment: [String: String]
    )
        -> Skill
    {
        let (front, body) = split(text)
        let name = front["name"].flatMap { $0.isEmpty ? nil : $0 } ?? folder
        var description = front["description"] ?? ""
        if description.isEmpty {
            description =
                body.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("---") }.map { String($0.prefix(100)) }
                ?? ""
        }
        var blocked: String? = nil
        if front["always"] != "true" {
            for bin in list(front["bins"]) where !isOnPath(bin, environment: environment) {
                blocked = "needs the command \(bin)"
                break
            }
            if blocked == nil {
                let any = list(front["anyBins"])
                if !any.isEmpty && !any.contains(where: { isOnPath($0, environment: environment) }) {
                    blocked = "needs one of: " + any.joined(separator: ", ")
                }
            }
            if blocked == nil {
                for v in list(front["env"]) where (environment[v] ?? "").isEmpty {
                    blocked = "needs the environment variable \(v)"
                    break
                }
            }
        }
        return Skill(
            name: name,
            description: description,
            command: command(for: name),
            path: path,
            source: source,
            isUserInvocable: front["user-invocable"] != "false",
            isModelInvocable: front["disable-model-invocation"] != "true",
            blockedReason: blocked
        )
    }

    /// Lower-case, non-alphanumerics as `-`, trimmed, at most 32 characters.
    public static func command(for name: String) -> String {
        var out = ""
        for ch in name.lowercased() {
            if ch.isLetter || ch.isNumber { out.append(ch) } else if !out.hasSuffix("-") { out.append("-") }
        }
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        return String(out.prefix(32))
    }

    /// Front matter as flat `key: value` pairs (nested keys by their last name: `bins`, `env`), and
    /// the body. A file without front matter has an empty map.
    static func split(_ text: String) -> (front: [String: String], body: String) {
        guard text.hasPrefix("---") else { return ([:], text) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" })
        else { return ([:], text) }
        var front: [String: String] = [:]
        var listKey: String? = nil
        // A block scalar (`key: >-` / `|`) being read: its key, whether it folds, its lines.
        var block: (key: String, folded: Bool, indent: Int, lines: [String])? = nil
        func finishBlock() {
            guard let b = block else { return }
            front[b.key] = b.folded ? b.lines.joined(separator: " ") : b.lines.joined(separator: "\n")
            block = nil
        }
        for raw in lines[1..<end] {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let indent = line.prefix { $0 == " " }.count
            if let b = block {
                if trimmed.isEmpty || indent > b.indent {
                    block?.lines.append(trimmed)
                    continue
                }
                finishBlock()
            }
            if trimmed.hasPrefix("- "), let key = listKey {
                let item = unquote(String(trimmed.dropFirst(2)))
                front[key] = (front[key].map { $0 + "," } ?? "") + item
                continue
            }
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            let value = unquote(trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            listKey = value.isEmpty ? key : nil
            // The skill's own fields are top-level keys: a nested `name` (metadata.author.name) is not
            // the skill's name. Nested keys (`bins`, `env`, `anyBins`) are read by their last name.
            if indent > 0 && Self.topLevelKeys.contains(key) { continue }
            if [">", ">-", ">+", "|", "|-", "|+"].contains(value) {
                block = (key, value.hasPrefix(">"), indent, [])
                continue
            }
            if !value.isEmpty || front[key] == nil { front[key] = value }
        }
        finishBlock()
        return (front, lines[(end + 1)...].joined(separator: "\n"))
    }

    /// The front matter's own fields, read only at the top level.
    static let topLevelKeys: Set<String> = ["name", "description", "user-invocable", "disable-model-invocation"]

    static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, let l = s.last, (f == "\"" && l == "\"") || (f == "'" && l == "'") {
            return String(s.dropFirst().dropLast())
        }
        return s
    }

    /// `[a, b]` or `a,b` as a list.
    static func list(_ value: String?) -> [String] {
        guard var v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return [] }
        if v.hasPrefix("[") && v.hasSuffix("]") { v = String(v.dropFirst().dropLast()) }
        return v.split(separator: ",").map { unquote($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
    }

    static func isOnPath(_ command: String, environment: [String: String]) -> Bool {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { access(String($0) + "/" + command, X_OK) == 0 }
    }
}
