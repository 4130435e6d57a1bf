//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore

/// The first line of a session file.
///
/// `{"type":"session","version":1,"id":"…","timestamp":"2026-…Z","cwd":"…","compactionCount":0,
/// "memoryFlushCompactionCount":0}` — the reference's (Pi/OpenClaw-compatible) header.
public struct SessionHeader: Sendable, Equatable {
    public var id: String
    /// Milliseconds since 1970 when the session was created.
    public var created: Int64
    public var cwd: String
    public var compactionCount: Int
    /// Compactions that a successful memory flush preceded.
    public var memoryFlushCompactionCount: Int

    public init(id: String, created: Int64, cwd: String, compactionCount: Int = 0, memoryFlushCompactionCount: Int = 0)
    {
        self.id = id
        self.created = created
        self.cwd = cwd
        self.compactionCount = compactionCount
        self.memoryFlushCompactionCount = memoryFlushCompactionCount
    }
}

/// A record of one compaction, kept in the session file as a `{"type":"compaction",...}` line (readers
/// of the reference format skip it).
public struct CompactionRecord: Sendable, Equatable {
    public var timestamp: Int64
    /// `threshold`, `overflow` or `manual`.
    public var reason: String
    public var messagesBefore: Int
    public var messagesAfter: Int
    public var tokensBefore: Int
    public var tokensAfter: Int
    /// Whether a memory flush turn ran (and finished) first.
    public var flushed: Bool
    /// The workspace file the compacted messages were saved to, if any.
    public var checkpoint: String?

    public init(
        timestamp: Int64,
        reason: String,
        messagesBefore: Int,
        messagesAfter: Int,
        tokensBefore: Int,
        tokensAfter: Int,
        flushed: Bool,
        checkpoint: String?
    ) {
        self.timestamp = timestamp
        self.reason = reason
        self.messagesBefore = messagesBefore
        self.messagesAfter = messagesAfter
        self.tokensBefore = tokensBefore
        self.tokensAfter = tokensAfter
        self.flushed = flushed
        self.checkpoint = checkpoint
    }
}

/// Encodes and decodes the lines of a session file (JSONL).
public enum SessionCodec {
    public static func encode(_ h: SessionHeader) -> String {
        JSONValue.object([
            "type": "session", "version": 1, "id": .string(h.id),
            "timestamp": .string(AgentDates.rfc3339(milliseconds: h.created)), "cwd": .string(h.cwd),
            "compactionCount": .int(Int64(h.compactionCount)),
            "memoryFlushCompactionCount": .int(Int64(h.memoryFlushCompactionCount)),
        ]).encoded()
    }

    public static func encode(_ r: CompactionRecord) -> String {
        var o: [String: JSONValue] = [
            "type": "compaction", "timestamp": .int(r.timestamp), "reason": .string(r.reason),
            "messagesBefore": .int(Int64(r.messagesBefore)), "messagesAfter": .int(Int64(r.messagesAfter)),
            "tokensBefore": .int(Int64(r.tokensBefore)), "tokensAfter": .int(Int64(r.tokensAfter)),
            "flushed": .bool(r.flushed),
        ]
        if let c = r.checkpoint { o["checkpoint"] = .string(c) }
        return JSONValue.object(o).encoded()
    }

    /// `{"type":"message","message":{"role":…,"content":[{"type":"text","text":…}],…}}`.
    public static func encode(_ m: ChatMessage) -> String {
        var o: [String: JSONValue] = [
            "role": .string(m.role == .tool ? "toolResult" : m.role.rawValue),
            "content": .array([.object(["type": "text", "text": .string(m.content)])]),
            "timestamp": .int(m.timestamp),
        ]
        if !m.toolCalls.isEmpty {
            o["toolCalls"] = .array(
                m.toolCalls.map {
                    .object(["id": .string($0.id), "name": .string($0.name), "arguments": .string($0.argumentsJSON)])
                }
            )
        }
        if let v = m.toolCallID { o["toolCallId"] = .string(v) }
        if let v = m.toolName { o["toolName"] = .string(v) }
        if m.isError { o["isError"] = true }
        if let v = m.provider { o["provider"] = .string(v) }
        if let v = m.model { o["model"] = .string(v) }
        if let u = m.usage {
            o["usage"] = .object([
                "input": .int(Int64(u.input)), "output": .int(Int64(u.output)), "cacheRead": .int(Int64(u.cacheRead)),
                "cacheWrite": .int(Int64(u.cacheWrite)), "totalTokens": .int(Int64(u.total)), "cost": 0,
            ])
        }
        if let v = m.stopReason { o["stopReason"] = .string(v) }
        if let v = m.meta { o["meta"] = .string(v) }
        return JSONValue.object(["type": "message", "message": .object(o)]).encoded()
    }

    /// One decoded line.
    public enum Line: Sendable {
        case header(SessionHeader)
        case message(ChatMessage)
        case compaction(CompactionRecord)
    }

    /// Decodes a line; nil for a line that is not JSON or of an unknown type.
    public static func decode(_ line: String) -> Line? {
        guard let doc = try? JSONValue(parsing: line) else { return nil }
        switch doc["type"]?.stringValue {
        case "session":
            return .header(
                SessionHeader(
                    id: doc["id"]?.stringValue ?? "",
                    created: doc["timestamp"]?.stringValue.flatMap(AgentDates.milliseconds(rfc3339:)) ?? 0,
                    cwd: doc["cwd"]?.stringValue ?? "",
                    compactionCount: Int(doc["compactionCount"]?.intValue ?? 0),
                    memoryFlushCompactionCount: Int(doc["memoryFlushCompactionCount"]?.intValue ?? 0)
                )
            )
        case "message":
            return doc["message"].flatMap(decodeMessage).map(Line.message)
        case "compaction":
            return .compaction(
                CompactionRecord(
                    timestamp: doc["timestamp"]?.intValue ?? 0,
                    reason: doc["reason"]?.stringValue ?? "",
                    messagesBefore: Int(doc["messagesBefore"]?.intValue ?? 0),
                    messagesAfter: Int(doc["messagesAfter"]?.intValue ?? 0),
                    tokensBefore: Int(doc["tokensBefore"]?.intValue ?? 0),
                    tokensAfter: Int(doc["tokensAfter"]?.intValue ?? 0),
                    flushed: doc["flushed"]?.boolValue ?? false,
                    checkpoint: doc["checkpoint"]?.stringValue
                )
            )
        default:
            return nil
        }
    }

    static func decodeMessage(_ m: JSONValue) -> ChatMessage? {
        let role: ChatRole
        switch m["role"]?.stringValue {
        case "system": role = .system
        case "user": role = .user
        case "assistant": role = .assistant
        case "tool", "toolResult": role = .tool
        default: return nil
        }
        var text = ""
        switch m["content"] {
        case .string(let s)?: text = s
        case .array(let parts)?:
            text = parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }
                .joined(separator: "\n")
        default: break
        }
        let calls: [ToolCall] = (m["toolCalls"]?.arrayValue ?? []).compactMap { c in
            guard let name = c["name"]?.stringValue else { return nil }
            var args = c["arguments"] ?? .object([:])
            if case .string(let raw) = args { args = (try? JSONValue(parsing: raw)) ?? .string(raw) }
            return ToolCall(id: c["id"]?.stringValue ?? "", name: name, arguments: args)
        }
        var usage: TokenUsage? = nil
        if let u = m["usage"] {
            usage = TokenUsage(
                input: Int(u["input"]?.intValue ?? 0),
                output: Int(u["output"]?.intValue ?? 0),
                cacheRead: Int(u["cacheRead"]?.intValue ?? 0),
                cacheWrite: Int(u["cacheWrite"]?.intValue ?? 0)
            )
        }
        return ChatMessage(
            role: role,
            content: text,
            toolCalls: calls,
            toolCallID: m["toolCallId"]?.stringValue,
            toolName: m["toolName"]?.stringValue,
            isError: m["isError"]?.boolValue ?? false,
            provider: m["provider"]?.stringValue,
            model: m["model"]?.stringValue,
            usage: usage,
            stopReason: m["stopReason"]?.stringValue,
            timestamp: m["timestamp"]?.intValue ?? 0,
            meta: m["meta"]?.stringValue
        )
    }
}
