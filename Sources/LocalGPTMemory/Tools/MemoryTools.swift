//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// A tool the host gives every agent, with its JSON-Schema'd parameters.
public struct MemoryToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    /// A JSON Schema (draft 2020-12 subset) for the arguments object.
    public var parameters: JSONValue
}

/// The memory tools' logic: `memory_search`, `memory_get`, `memory_save`, `memory_log`, each a
/// function from a JSON arguments object to a JSON result, so the agent can expose them to a model.
/// The arguments and their limits are those of the tools the agent offers (`LocalGPTAgent`'s
/// `MemoryHostTools`, whose ``MemoryToolBackend`` this can serve): a query of at most 2,000
/// characters, a `text` of at most 20,000 for `memory_save` and `memory_log` (docs/MEMORY.md).
public enum MemoryTools {
    public static let search = MemoryToolDefinition(
        name: "memory_search",
        description: """
            Search the user's memory (MEMORY.md, daily logs, knowledge notes) by meaning and keywords. \
            Returns the best chunks with file, line range, score and a snippet; read more with memory_get.
            """,
        parameters: [
            "type": "object",
            "properties": [
                "query": [
                    "type": "string", "minLength": 1, "maxLength": 2000,
                    "description":
                        "What to look for, in plain words; a date (\"yesterday\", \"3 June\") favours that day's log.",
                ],
                "limit": [
                    "type": "integer", "minimum": 1, "maximum": 50, "default": 5,
                    "description": "How many results (default 5).",
                ],
            ],
            "required": ["query"],
            "additionalProperties": false,
        ]
    )

    public static let get = MemoryToolDefinition(
        name: "memory_get",
        description: """
            Read lines of a memory file (MEMORY.md, memory/YYYY-MM-DD.md, ...), e.g. around a search result. \
            Paths are relative to the workspace.
            """,
        parameters: [
            "type": "object",
            "properties": [
                "path": [
                    "type": "string", "minLength": 1, "maxLength": 4096, "description": "Workspace-relative path.",
                ],
                "from": ["type": "integer", "minimum": 1, "default": 1, "description": "First line (1-based)."],
                "lines": [
                    "type": "integer", "minimum": 1, "maximum": 10_000, "default": 50,
                    "description": "How many lines (default 50).",
                ],
            ],
            "required": ["path"],
            "additionalProperties": false,
        ]
    )

    public static let save = MemoryToolDefinition(
        name: "memory_save",
        description: "Remember a lasting fact about the user or their work: appends it to MEMORY.md.",
        parameters: [
            "type": "object",
            "properties": [
                "text": [
                    "type": "string", "minLength": 1, "maxLength": 20000,
                    "description": "The fact, one short sentence.",
                ]
            ],
            "required": ["text"],
            "additionalProperties": false,
        ]
    )

    public static let log = MemoryToolDefinition(
        name: "memory_log",
        description: "Note what happened today: appends a timestamped entry to today's daily log.",
        parameters: [
            "type": "object",
            "properties": [
                "text": ["type": "string", "minLength": 1, "maxLength": 20000, "description": "What to note."]
            ],
            "required": ["text"],
            "additionalProperties": false,
        ]
    )

    /// Every memory tool.
    public static let all = [search, get, save, log]

    /// Runs a memory tool.
    ///
    /// - Parameters:
    ///   - name: `memory_search`, `memory_get`, `memory_save` or `memory_log`.
    ///   - arguments: the arguments object; checked against the tool's schema.
    ///   - memory: the workspace's memory.
    /// - Returns: `memory_search`: `{"results": [{"file", "line_start", "line_end", "score", "snippet"}]}`
    ///   (plus `"notice"` when keyword-only); `memory_get`: `{"file", "from", "to", "total_lines",
    ///   "text"}` with `%4d\t`-numbered lines; `memory_save` / `memory_log`: `{"file", "line_start", "line_end"}`.
    /// - Throws: ``MemoryError`` (`invalidArgument` for an unknown tool or arguments that do not
    ///   match the schema; the path and I/O codes of the operation otherwise).
    public static func call(
        _ name: String,
        arguments: JSONValue,
        memory: MemoryManager
    ) throws(MemoryError) -> JSONValue {
        guard let tool = all.first(where: { $0.name == name }) else {
            throw .invalidArgument("unknown memory tool \(name)")
        }
        try validate(arguments, against: tool)
        switch name {
        case search.name:
            let query = arguments["query"]?.stringValue ?? ""
            let limit = Int(arguments["limit"]?.intValue ?? 5)
            let response = try memory.search(query, limit: limit)
            var out = response.json
            if let notice = response.notice, case .object(var o) = out {
                o["notice"] = .string(notice)
                out = .object(o)
            }
            return out
        case get.name:
            let excerpt = try memory.get(
                path: arguments["path"]?.stringValue ?? "",
                from: Int(arguments["from"]?.intValue ?? 1),
                lines: Int(arguments["lines"]?.intValue ?? 50)
            )
            return [
                "file": .string(excerpt.file),
                "from": .int(Int64(excerpt.from)),
                "to": .int(Int64(excerpt.to)),
                "total_lines": .int(Int64(excerpt.totalLines)),
                "text": .string(excerpt.numberedText),
            ]
        case save.name:
            return appended(try memory.save(fact: arguments["text"]?.stringValue ?? ""))
        default:
            return appended(try memory.log(entry: arguments["text"]?.stringValue ?? ""))
        }
    }

    static func appended(_ r: AppendResult) -> JSONValue {
        ["file": .string(r.file), "line_start": .int(Int64(r.lineStart)), "line_end": .int(Int64(r.lineEnd))]
    }

    private static func validate(_ arguments: JSONValue, against tool: MemoryToolDefinition) throws(MemoryError) {
        let schema: JSONSchema
        do {
            schema = try JSONSchema(tool.parameters, location: tool.name)
        } catch {
            throw .invalidArgument("\(tool.name): bad schema: \(error)")
        }
        if let v = schema.firstViolation(arguments) {
            throw .invalidArgument("\(tool.name): \(v.description)")
        }
    }
}
