//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// The workspace files loaded into every session's context, each delimited as data, each capped
/// with a visible notice (the reference injected MEMORY.md whole, however large).
public struct WorkspaceContext: Sendable {
    /// One file's place in the context.
    public struct Entry: Sendable, Equatable {
        public var label: String
        /// Relative to the workspace.
        public var file: String
        public var maxCharacters: Int
        /// Daily logs keep their end (the newest lines), the others their beginning.
        public var keepsTail: Bool
    }

    /// One loaded file.
    public struct Section: Sendable, Equatable {
        public var entry: Entry
        public var text: String
        public var originalCharacters: Int
        public var isTruncated: Bool { originalCharacters > entry.maxCharacters }
    }

    public var sections: [Section]
    /// Files left out because the total cap was reached.
    public var omitted: [String]

    /// The files, in the reference's order, for `day` and the day before.
    public static func entries(today: String, yesterday: String, fileCap: Int, memoryCap: Int) -> [Entry] {
        [
            Entry(label: "Identity", file: "IDENTITY.md", maxCharacters: fileCap, keepsTail: false),
            Entry(label: "User", file: "USER.md", maxCharacters: fileCap, keepsTail: false),
            Entry(label: "Soul", file: "SOUL.md", maxCharacters: fileCap, keepsTail: false),
            Entry(label: "Agents", file: "AGENTS.md", maxCharacters: fileCap, keepsTail: false),
            Entry(label: "Tools", file: "TOOLS.md", maxCharacters: fileCap, keepsTail: false),
            Entry(label: "Long-term memory", file: "MEMORY.md", maxCharacters: memoryCap, keepsTail: false),
            Entry(label: "Today's log", file: "memory/\(today).md", maxCharacters: fileCap, keepsTail: true),
            Entry(label: "Yesterday's log", file: "memory/\(yesterday).md", maxCharacters: fileCap, keepsTail: true),
            Entry(label: "Heartbeat tasks", file: "HEARTBEAT.md", maxCharacters: min(fileCap, 4000), keepsTail: false),
        ]
    }

    /// Reads the files that exist and are not empty, within `totalCap` characters overall. A file is
    /// shortened with `secretMasker`: a secret the cut goes through is `********`, not its first or last
    /// characters (which the model could repeat into what is saved, past the masker).
    public static func load(
        workspace: String,
        entries: [Entry],
        totalCap: Int,
        secretMasker: SecretMasker = SecretMasker()
    ) -> WorkspaceContext {
        var sections: [Section] = []
        var omitted: [String] = []
        var used = 0
        for entry in entries {
            guard let bytes = AgentFileIO.read(workspace + "/" + entry.file, limit: 64 << 20) else { continue }
            let raw = String(decoding: bytes, as: UTF8.self)
            guard raw.contains(where: { !$0.isWhitespace }) else { continue }
            let count = raw.count
            var cap = entry.maxCharacters
            if used + min(count, cap) > totalCap { cap = max(0, totalCap - used) }
            if cap < 200 && count > cap {
                omitted.append(entry.file)
                continue
            }
            var e = entry
            e.maxCharacters = cap
            let text: String
            if count <= cap {
                text = raw
            } else if entry.keepsTail {
                text = secretMasker.cut(raw, keepingLast: cap)
            } else {
                text = secretMasker.cut(raw, keepingFirst: cap)
            }
            used += min(count, cap)
            sections.append(Section(entry: e, text: text, originalCharacters: count))
        }
        return WorkspaceContext(sections: sections, omitted: omitted)
    }

    /// The context text: each file in `<memory_context>` with its label, separated by `---`.
    public func rendered(memoryReadTool: String?) -> String {
        var parts: [String] = []
        for s in sections {
            var body = ToolOutputSanitizer.neutralise(s.text).text
            if s.isTruncated {
                let how = memoryReadTool.map { " Read the rest with \($0)." } ?? ""
                let notice =
                    "[truncated: \(s.entry.file) has \(s.originalCharacters) characters; only the "
                    + (s.entry.keepsTail ? "last" : "first") + " \(s.entry.maxCharacters) are shown.\(how)]"
                body = s.entry.keepsTail ? notice + "\n" + body : body + "\n" + notice
            }
            parts.append("<memory_context>\n<!-- \(s.entry.label) (\(s.entry.file)) -->\n\(body)\n</memory_context>")
        }
        if !omitted.isEmpty {
            parts.append("[not loaded, the workspace context is full: \(omitted.joined(separator: ", "))]")
        }
        return parts.joined(separator: "\n\n---\n\n")
    }
}
