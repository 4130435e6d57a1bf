//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import LocalGPTCore

/// The pure parts of compaction: where to cut, how to render what is summarised, the prompts.
public enum CompactionPlanner {
    /// Why a compaction runs.
    public enum Reason: String, Sendable {
        /// The next request would pass the threshold.
        case threshold
        /// The provider said the request overflowed its window.
        case overflow
        /// `/compact`.
        case manual
    }

    /// The index where the kept messages start, or nil when there is nothing to compact.
    ///
    /// The cut never falls before a tool result (a call and its results stay together), prefers the
    /// start of a user turn, and keeps as many recent messages as fit in `keepBudget` tokens. Earlier
    /// summaries (system entries) are always summarised again, never kept.
    ///
    /// - Parameters:
    ///   - messages: the session's messages.
    ///   - tokens: the token estimate of message `i`.
    ///   - keepBudget: the most tokens the kept messages may take.
    /// - Returns: the first kept index (at least 1), or nil.
    public static func splitIndex(_ messages: [ChatMessage], tokens: (Int) -> Int, keepBudget: Int) -> Int? {
        guard messages.count >= 2 else { return nil }
        var suffix = [Int](repeating: 0, count: messages.count + 1)
        for i in stride(from: messages.count - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + tokens(i) }
        let isCut: (Int) -> Bool = { i in messages[i].role != .tool && messages[i].role != .system }
        let userCuts = (1..<messages.count).filter { messages[$0].role == .user && isCut($0) }
        var split: Int? = userCuts.first { suffix[$0] <= keepBudget }
        if split == nil {
            // The last user turn alone is over the budget: cut inside it, between complete call groups.
            let lastUser = userCuts.last ?? 1
            split = (lastUser..<messages.count).first { isCut($0) && $0 > lastUser && suffix[$0] <= keepBudget }
            if split == nil { split = userCuts.last }
        }
        guard let s = split, s >= 1 else { return nil }
        // Something besides old summaries must be summarised.
        guard messages[0..<s].contains(where: { $0.role != .system }) || s > 1 else { return nil }
        return s
    }

    /// The messages as plain text for the summariser, in chunks of at most `maxBytes` (a chunk holds at
    /// least one message; very long messages are shortened, with `secretMasker`: a secret a cut goes
    /// through is `********`, not first characters the summary could keep past the masker).
    public static func render(
        _ messages: ArraySlice<ChatMessage>,
        maxBytes: Int,
        secretMasker: SecretMasker = SecretMasker()
    ) -> [String] {
        var chunks: [String] = []
        var current = ""
        let perMessage = max(2000, maxBytes / 2)
        for m in messages {
            var line: String
            switch m.role {
            case .system: line = "Earlier summary:\n" + m.content
            case .user: line = "User: " + m.content
            case .assistant:
                line = "Assistant: " + m.content
                for c in m.toolCalls {
                    line += "\n[called \(c.name) \(secretMasker.cut(c.argumentsJSON, keepingFirst: 300))]"
                }
            case .tool:
                let body = ToolOutputSanitizer.unwrap(m.content)
                line =
                    "Result of \(m.toolName ?? "tool")\(m.isError ? " (failed)" : ""): "
                    + (body.count > 1500 ? secretMasker.cut(body, keepingFirst: 1500) + " […]" : body)
            }
            if line.utf8.count > perMessage { line = secretMasker.cut(line, keepingFirst: perMessage) + " […]" }
            if !current.isEmpty && current.utf8.count + line.utf8.count + 2 > maxBytes {
                chunks.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : "\n\n") + line
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks.map { ToolOutputSanitizer.neutralise($0).text }
    }

    /// The summariser's instructions (system message).
    public static let summarySystemPrompt = """
        You write summaries of conversations between a user and their assistant, so that the assistant can \
        continue the work without the original messages. Output only the summary.
        """

    /// The summariser's request for one chunk.
    public static func summaryRequest(conversation: String, previousSummary: String?) -> String {
        var s = """
            Summarize the conversation below. Keep the user's goals and requests, decisions, facts about the \
            user, names, dates, file paths, commands and results that still matter, and open tasks. Drop small \
            talk, dead ends and long tool output. Write concise markdown bullet points, at most about 400 words.

            """
        if let previousSummary, !previousSummary.isEmpty {
            s += "\nSummary of what came before (merge it in):\n" + previousSummary + "\n"
        }
        s += "\n<conversation>\n" + conversation + "\n</conversation>"
        return s
    }

    /// The user message of the memory flush that precedes every compaction.
    public static func flushPrompt(today: String, tools: Set<String>) -> String {
        var how: [String] = []
        if tools.contains("memory_save") { how.append("lasting facts, preferences and decisions with memory_save") }
        if tools.contains("memory_log") { how.append("notes on today's work with memory_log") }
        if how.isEmpty {
            how.append("lasting facts in MEMORY.md and notes in memory/\(today).md (write_file/edit_file)")
        }
        return "[Pre-compaction memory flush] This session is close to its context limit: the older messages "
            + "will now be replaced by a summary. Save what should outlive them: "
            + how.joined(separator: "; ") + ". Skip what is already saved. Then reply with exactly NO_REPLY."
    }

    /// The prefix of the summary entry.
    public static let summaryPrefix = "Previous conversation summary:\n\n"

    /// The model-independent checkpoint of the compacted messages (user and assistant text only).
    public static func checkpoint(_ messages: ArraySlice<ChatMessage>, sessionID: String, date: String) -> String {
        var out = "# Compacted conversation \(date)\n\n- Session: \(sessionID)\n\n"
        for m in messages where m.meta == nil {
            switch m.role {
            case .user: out += "**User**: \(m.content)\n\n"
            case .assistant where !m.content.isEmpty && !SilentReplyFilter.isSilent(m.content):
                out += "**Assistant**: \(m.content)\n\n"
            case .system: out += "**Earlier summary**: \(m.content.dropFirst(summaryPrefix.count))\n\n"
            default: break
            }
        }
        if out.utf8.count > 40_000 { out = String(out.prefix(40_000)) + "\n\n[…]\n" }
        return out
    }
}
