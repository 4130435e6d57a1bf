//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore

/// A tool the host itself provides (memory, skills), dispatched without a plugin.
public protocol AgentHostTool: Sendable {
    var name: String { get }
    var description: String { get }
    /// The JSON Schema of the arguments (validated before ``run(arguments:)``).
    var parameters: JSONValue { get }
    /// `none`, `read`, `write`, `network` or `exec` (informs approval).
    var sideEffects: String { get }
    /// Runs the tool; blocking. Returns the text the model reads.
    ///
    /// - Throws: ``HostToolError`` with a message for the model.
    func run(arguments: JSONValue) throws(HostToolError) -> String
}

/// A host tool's failure, shown to the model.
public struct HostToolError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// The memory tools' logic, JSON in and JSON out: what the memory module provides (the narrow
/// protocol the agent needs from it). `name` is `memory_search`, `memory_get`, `memory_save` or
/// `memory_log`; the arguments are those of ``MemoryHostTools``' schemas.
public protocol MemoryToolBackend: Sendable {
    /// Which of the four tools this backend serves.
    var memoryToolNames: Set<String> { get }
    /// - Throws: any error; its description is shown to the model.
    func callMemoryTool(_ name: String, arguments: JSONValue) throws -> JSONValue
}

/// `memory_search`, `memory_get`, `memory_save` and `memory_log` for the model.
///
/// Each tool goes to the ``MemoryToolBackend`` when it serves it; otherwise `memory_search` uses the
/// host's ``MemoryService`` (absent without an index), and `memory_get`, `memory_save` and `memory_log`
/// work on the workspace files directly (confined to the workspace, appends only).
///
/// What `memory_save` and `memory_log` write passes through ``secretMasker`` first, whichever of
/// the three does the writing: a configured key the model saves lands in the notes as `********`.
public struct MemoryHostTools: Sendable {
    public var workspace: String
    /// The extra indexed roots (`memory.paths`): `memory_search` returns their files by absolute
    /// path, and `memory_get` reads them (nothing is appended there).
    public var extraRoots: [String]
    public var backend: (any MemoryToolBackend)?
    public var service: (any MemoryService)?
    /// Asked before `memory_save` and `memory_log` append to a file (its absolute path, the
    /// tool's name): a refusal message, or nil to go on. The CLI passes
    /// ``ProtectedPaths/checkWrite(_:tool:workingDirectory:audit:)``, which also records the attempt
    /// in the audit log; the memory module refuses protected files in any case.
    public var writeGuard: (@Sendable (_ path: String, _ tool: String) -> String?)?
    /// Hides the configured secret values in what is saved (``SecretMasker/init(configuration:)``).
    public var secretMasker: SecretMasker

    public init(
        workspace: String,
        extraRoots: [String] = [],
        backend: (any MemoryToolBackend)? = nil,
        service: (any MemoryService)? = nil,
        writeGuard: (@Sendable (_ path: String, _ tool: String) -> String?)? = nil,
        secretMasker: SecretMasker = SecretMasker()
    ) {
        self.workspace = workspace
        self.extraRoots = extraRoots
        self.backend = backend
        self.service = service
        self.writeGuard = writeGuard
        self.secretMasker = secretMasker
    }

    /// The tools that can run with what is available.
    public var tools: [any AgentHostTool] {
        var out: [any AgentHostTool] = []
        if backend?.memoryToolNames.contains("memory_search") == true || service != nil {
            out.append(Tool(kind: .search, owner: self))
        }
        out.append(Tool(kind: .get, owner: self))
        out.append(Tool(kind: .save, owner: self))
        out.append(Tool(kind: .log, owner: self))
        return out
    }

    enum Kind: String, Sendable {
        case search = "memory_search"
        case get = "memory_get"
        case save = "memory_save"
        case log = "memory_log"
    }

    struct Tool: AgentHostTool {
        let kind: Kind
        let owner: MemoryHostTools

        var name: String { kind.rawValue }

        var description: String {
            switch kind {
            case .search: return "Search memory (MEMORY.md, daily logs, notes) by keywords and meaning."
            case .get: return "Read lines of a memory file (MEMORY.md, memory/..., knowledge/...) by line number."
            case .save: return "Append a lasting fact to MEMORY.md."
            case .log: return "Append a note to today's daily log."
            }
        }

        var parameters: JSONValue {
            switch kind {
            case .search:
                return [
                    "type": "object",
                    "properties": [
                        "query": ["type": "string", "minLength": 1, "maxLength": 2000],
                        "limit": ["type": "integer", "minimum": 1, "maximum": 50],
                    ],
                    "required": ["query"], "additionalProperties": false,
                ]
            case .get:
                return [
                    "type": "object",
                    "properties": [
                        "path": ["type": "string", "minLength": 1, "maxLength": 4096],
                        "from": ["type": "integer", "minimum": 1],
                        "lines": ["type": "integer", "minimum": 1, "maximum": 10000],
                    ],
                    "required": ["path"], "additionalProperties": false,
                ]
            case .save, .log:
                return [
                    "type": "object",
                    "properties": ["text": ["type": "string", "minLength": 1, "maxLength": 20000]],
                    "required": ["text"], "additionalProperties": false,
                ]
            }
        }

        var sideEffects: String { kind == .save || kind == .log ? "write" : "read" }

        func run(arguments: JSONValue) throws(HostToolError) -> String {
            let arguments = kind == .save || kind == .log ? owner.secretMasker.mask(arguments) : arguments
            if let backend = owner.backend, backend.memoryToolNames.contains(name) {
                do {
                    return Self.render(
                        kind,
                        try backend.callMemoryTool(name, arguments: arguments),
                        secretMasker: owner.secretMasker
                    )
                } catch {
                    throw HostToolError("\(name): \(error)")
                }
            }
            switch kind {
            case .search:
                guard let service = owner.service else { throw HostToolError("memory search is not available") }
                do {
                    let reply = try service.search(
                        request: ["query": arguments["query"] ?? "", "limit": arguments["limit"] ?? 5],
                        source: "agent"
                    )
                    return Self.render(kind, reply, secretMasker: owner.secretMasker)
                } catch {
                    throw HostToolError("memory_search: \(error.message)")
                }
            case .get: return try owner.get(arguments)
            case .save: return try owner.append(arguments["text"]?.stringValue ?? "", to: "MEMORY.md", dated: false)
            case .log:
                let file = "memory/\(AgentDates.localDay()).md"
                return try owner.append(arguments["text"]?.stringValue ?? "", to: file, dated: true)
            }
        }

        /// Search results as numbered lines (a snippet cut with `secretMasker` at 300 characters, so no
        /// secret's first characters end it); other replies as their `text`/`output` or JSON.
        static func render(_ kind: Kind, _ reply: JSONValue, secretMasker: SecretMasker) -> String {
            if let results = reply["results"]?.arrayValue {
                if results.isEmpty { return "No results found." }
                var out = ""
                for (i, r) in results.enumerated() {
                    let file = r["file"]?.stringValue ?? r["path"]?.stringValue ?? "?"
                    let a = r["line_start"]?.intValue ?? 0
                    let b = r["line_end"]?.intValue ?? a
                    let score = r["score"]?.doubleValue ?? 0
                    let snippet = (r["snippet"]?.stringValue ?? "").split(whereSeparator: \.isNewline)
                        .joined(separator: " ")
                    out +=
                        "\(i + 1). [\(file):\(a)-\(b)] (score: \(FixedDecimal.format(score, digits: 3)))\n   "
                        + secretMasker.cut(snippet, keepingFirst: 300) + "\n"
                }
                return out
            }
            if let s = reply["text"]?.stringValue ?? reply["output"]?.stringValue ?? reply.stringValue { return s }
            return reply.encoded()
        }
    }

    /// `memory_get`: lines of a file in the workspace or an extra indexed root; `..`, NUL and
    /// anything outside are refused (symbolic links resolved first).
    func get(_ arguments: JSONValue) throws(HostToolError) -> String {
        let path = arguments["path"]?.stringValue ?? ""
        guard !path.contains("\0") else { throw HostToolError("memory_get: the path contains a NUL byte") }
        guard !path.split(separator: "/").contains("..") else {
            throw HostToolError("memory_get: the path must stay inside the workspace (no \"..\")")
        }
        let root = HostFilePolicy.canonical(workspace)
        let target = HostFilePolicy.canonical(path.hasPrefix("/") ? path : workspace + "/" + path)
        let roots = [root] + extraRoots.map { HostFilePolicy.canonical($0) }
        if roots.contains(target) { throw HostToolError("memory_get: \(path) is a folder; give a file in it") }
        guard let base = roots.first(where: { HostFilePolicy.isWithin(target, $0) }) else {
            throw HostToolError("memory_get: \(path) is outside the workspace")
        }
        let from = max(1, Int(arguments["from"]?.intValue ?? 1))
        let count = Int(arguments["lines"]?.intValue ?? 50)
        do {
            let r = try HostFileOperations.read(target, offset: from - 1, limit: count)
            // As memory_search names it: relative in the workspace, absolute in an extra root.
            let shown = base == root ? String(target.dropFirst(root.count + 1)) : target
            if r.totalLines == 0 { return "# \(shown) (empty)" }
            if r.lineCount == 0 { return "# \(shown) (\(r.totalLines) lines; nothing from line \(from) on)" }
            var out = "# \(shown) (lines \(r.firstLine)-\(r.firstLine + r.lineCount - 1) of \(r.totalLines))\n"
            var n = r.firstLine
            // Lines end at LF, as the index counts them; a CR before it is not shown. (Splitting
            // the String at "\n" missed CRLF, one Character.)
            for scalars in r.content.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
                .prefix(r.lineCount)
            {
                var line = String(scalars)
                if line.unicodeScalars.last == "\r" { line.unicodeScalars.removeLast() }
                let num = String(n)
                out += String(repeating: " ", count: max(0, 4 - num.count)) + num + "\t" + line + "\n"
                n += 1
            }
            return out
        } catch {
            if error.code == .notFound { throw HostToolError("File not found: \(path)") }
            throw HostToolError("memory_get: \(error.message)")
        }
    }

    /// Appends a line to a workspace file (`- text`, or `- HH:MM text` for the daily log).
    func append(_ text: String, to file: String, dated: Bool) throws(HostToolError) -> String {
        let clean = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !clean.isEmpty else { throw HostToolError("nothing to save: the text is empty") }
        if let refusal = writeGuard?(workspace + "/" + file, dated ? "memory_log" : "memory_save") {
            throw HostToolError(refusal)
        }
        if let service {
            do {
                // The service's daily log writes `- HH:MM entry` itself; a `file` gets the text as
                // it is, so the fact is made a list item here.
                let reply = try service.append(
                    request: dated
                        ? ["text": .string(clean)]
                        : ["text": .string(DisplayText.markdownListItem(clean)), "file": .string(file)],
                    source: "agent"
                )
                // The file the service wrote: its daily log takes the date when it writes, which
                // near midnight may be a day after the one `file` was named for.
                return "Saved to \(reply["file"]?.stringValue ?? file)."
            } catch {
                throw HostToolError("\(error.message)")
            }
        }
        let path = workspace + "/" + file
        var line = ""
        if !AgentFileIO.exists(path) {
            line += dated ? "# \(AgentDates.localDay())\n\n" : "# Memory\n\n"
        } else if let bytes = AgentFileIO.read(path), let last = bytes.last, last != UInt8(ascii: "\n") {
            line += "\n"
        }
        let time = String(AgentDates.localDateTime().dropFirst(11).prefix(5))
        line += DisplayText.markdownListItem((dated ? time + " " : "") + clean) + "\n"
        do {
            _ = try HostFileOperations.write(path, content: Array(line.utf8), append: true)
        } catch {
            throw HostToolError("cannot save to \(file): \(error.message)")
        }
        return "Saved to \(file)."
    }

}

/// `read_skill`: the instructions of a skill, delimited as data.
public struct ReadSkillTool: AgentHostTool {
    public var skills: [Skill]

    public init(skills: [Skill]) {
        self.skills = skills
    }

    public var name: String { "read_skill" }
    public var description: String { "Read the instructions of a skill listed in <available_skills>." }
    public var parameters: JSONValue {
        [
            "type": "object", "properties": ["name": ["type": "string", "minLength": 1, "maxLength": 200]],
            "required": ["name"], "additionalProperties": false,
        ]
    }
    public var sideEffects: String { "read" }

    public func run(arguments: JSONValue) throws(HostToolError) -> String {
        let wanted = arguments["name"]?.stringValue ?? ""
        // Only what <available_skills> offers the model: a skill with disable-model-invocation is the
        // user's to run (/name), and is neither read nor named here.
        let offered = skills.filter(\.isModelInvocable)
        guard
            let skill = offered.first(where: {
                $0.name == wanted || $0.command == wanted || $0.command == Skills.command(for: wanted)
            })
        else {
            throw HostToolError(
                "no skill named \"\(wanted)\"; available: "
                    + offered.filter { $0.blockedReason == nil }.map(\.name).joined(separator: ", ")
            )
        }
        if let reason = skill.blockedReason { throw HostToolError("the skill \(skill.name) is unavailable: \(reason)") }
        // No <skill_content> wrapper here: the tool result is wrapped as tool output already, and the
        // sanitizer would show the skill's own wrapper to the model as [FILTERED].
        let body = ToolOutputSanitizer.neutralise(skill.body()).text
        return "The instructions of the skill \(skill.name):\n\n\(body)"
    }

    /// The skill's body inside `<skill_content>`.
    public static func content(of skill: Skill) -> String {
        let body = ToolOutputSanitizer.neutralise(skill.body()).text
        return "<skill_content name=\"\(skill.name)\">\n\(body)\n</skill_content>"
    }
}
