// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Tool calls written as text. Small local models (Qwen2.5-Coder 0.5B/1.5B) rarely use their chat template's
// <tool_call> tags: they answer with a bare JSON object {"name": ..., "arguments": ...}, a ```json fenced one,
// or the tags. This file finds such calls in the content, only for tools the request offers, and streams the
// rest of the text as it arrives, holding back only what may still turn out to be a call.

/// Finds tool calls written in text.
struct ToolCallText {
    /// The tools of the request, by name.
    let tools: [String: ToolSpec]

    init(tools: [ToolSpec]) {
        var byName: [String: ToolSpec] = [:]
        for t in tools { byName[t.name] = t }
        self.tools = byName
    }

    /// The calls a JSON value describes: one call object, an array of them, or `{"tool_calls": [...]}`. Only
    /// calls naming a known tool count; empty when the value is not a call.
    func calls(in value: JSON) -> [(name: String, arguments: JSON)] {
        switch value {
        case .array(let items):
            let found = items.map { calls(in: $0) }
            // Every element must be a call, or it is data that merely contains one.
            guard !found.isEmpty, found.allSatisfy({ $0.count == 1 }) else { return [] }
            return found.flatMap { $0 }
        case .object(let o):
            if let list = o["tool_calls"]?.array { return calls(in: .array(list)) }
            if let f = o["function"], case .object = f, f["name"] != nil { return calls(in: f) }
            let nameKeys = ["name", "tool", "tool_name", "function"]
            guard let written = nameKeys.lazy.compactMap({ o[$0]?.string }).first else { return [] }
            if tools[written] == nil, let shell = shellCall(name: written, object: o) { return [shell] }
            guard let spec = tools[written] else { return [] }
            let name = written
            let argumentKeys = ["arguments", "parameters", "args", "input", "tool_input"]
            var arguments: JSON = .object([:])
            if let key = argumentKeys.first(where: { o[$0] != nil }), let a = o[key] {
                arguments = a
                if case .string(let s) = a { arguments = (try? JSON(parsing: s)) ?? .object(["input": .string(s)]) }
                if arguments.isNull { arguments = .object([:]) }
            } else {
                // {"name": "get_weather", "city": "Paris"}: the other members are the arguments.
                var rest = o
                for k in nameKeys { rest.removeValue(forKey: k) }
                rest.removeValue(forKey: "type")
                rest.removeValue(forKey: "id")
                arguments = .object(rest)
            }
            guard case .object = arguments else { return [] }
            return [(name, ArgumentRepair.repair(arguments, schema: spec.parameters))]
        default:
            return []
        }
    }

    /// The shell tool offered (`bash`, else any tool whose only required argument is a string `command`).
    var shellToolName: String? {
        if let bash = tools["bash"], bash.parameters["properties"]?["command"] != nil { return "bash" }
        return tools.values.first { t in
            t.parameters["required"]?.array == [.string("command")] && t.parameters["properties"]?["command"] != nil
        }?.name
    }

    /// Small models name the program as the tool: {"name": "git", "arguments": {"command": "status"}}. When a
    /// shell tool is offered, a call to an unknown, program-like name whose only argument is a string `command`
    /// becomes a shell call (`git status`).
    private func shellCall(name: String, object o: [String: JSON]) -> (name: String, arguments: JSON)? {
        guard let shell = shellToolName, !name.isEmpty, name.count <= 32,
            name.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }),
            let arguments = (o["arguments"] ?? o["parameters"])?.object, arguments.count == 1,
            let command = arguments["command"]?.string?.trimmingSpaces, !command.isEmpty
        else { return nil }
        let program = String(name.split(whereSeparator: { $0 == "_" || $0 == "-" }).first ?? Substring(name))
        let line = command == program || command.hasPrefix(program + " ") ? command : program + " " + command
        return (shell, .object(["command": .string(line)]))
    }

    /// Parses `text` (a JSON candidate) leniently: strict JSON first, then with trailing commas removed, then
    /// with the brackets a model forgot to close (small models often stop one `}` short) appended.
    static func parseCandidate(_ text: String, closeBrackets: Bool = true) -> JSON? {
        if let v = try? JSON(parsing: text) { return v }
        let repaired = removingTrailingCommas(text)
        if repaired != text, let v = try? JSON(parsing: repaired) { return v }
        if closeBrackets, let closed = closingUnbalanced(repaired), let v = try? JSON(parsing: closed) { return v }
        return nil
    }

    /// `text` with its unclosed objects and arrays closed, or nil when nothing is open or a string is cut (a cut
    /// value must not pass for a complete one).
    static func closingUnbalanced(_ text: String) -> String? {
        var stack: [UInt8] = []
        var inString = false
        var escaped = false
        for b in text.utf8 {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): stack.append(UInt8(ascii: "}"))
            case UInt8(ascii: "["): stack.append(UInt8(ascii: "]"))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard stack.last == b else { return nil }
                stack.removeLast()
            default: break
            }
        }
        guard !stack.isEmpty && !inString && stack.count <= 4 else { return nil }
        return text + String(decoding: stack.reversed(), as: UTF8.self)
    }

    private static func removingTrailingCommas(_ text: String) -> String {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        let bytes = Array(text.utf8)
        for (i, b) in bytes.enumerated() {
            if inString {
                out.append(b)
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            if b == UInt8(ascii: "\"") { inString = true }
            if b == UInt8(ascii: ",") {
                var j = i + 1
                while j < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[j]) { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: "}") || bytes[j] == UInt8(ascii: "]") { continue }
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The end (exclusive) of the balanced JSON object or array starting at `start`, or nil when it does not
    /// close within `bytes`.
    static func balancedEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var inString = false
        var escaped = false
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                    if depth < 0 { return nil }
                default: break
                }
            }
            i += 1
        }
        return nil
    }
}

/// Small, safe repairs of arguments written by small models, guided by the tool's schema: numbers and booleans
/// written as strings are converted, a number where a string is wanted becomes its text, and members the
/// schema forbids (`additionalProperties: false`) are dropped. Anything else is left for the host's schema
/// check to report.
enum ArgumentRepair {
    static func repair(_ arguments: JSON, schema: JSON) -> JSON {
        guard case .object(var o) = arguments, let properties = schema["properties"]?.object else { return arguments }
        for (key, value) in o {
            guard let property = properties[key] else {
                if schema["additionalProperties"]?.bool == false { o.removeValue(forKey: key) }
                continue
            }
            let types: [String] =
                property["type"]?.string.map { [$0] } ?? property["type"]?.array?.compactMap(\.string) ?? []
            guard !types.isEmpty, !types.contains(value.typeName) else { continue }
            if value.typeName == "integer" && types.contains("number") { continue }
            switch value {
            case .string(let s):
                let t = s.trimmingSpaces
                if types.contains("integer"), let i = Int64(t) {
                    o[key] = .int(i)
                } else if types.contains("number"), let d = Double(t) {
                    o[key] = .double(d)
                } else if types.contains("boolean"), t == "true" || t == "false" {
                    o[key] = .bool(t == "true")
                } else if types.contains("array") {
                    o[key] = .array([.string(s)])
                }
            case .int(let i) where types.contains("string"):
                o[key] = .string(String(i))
            case .double(let d) where types.contains("string"):
                o[key] = .string("\(d)")
            case .double(let d) where types.contains("integer") && d.rounded() == d:
                o[key] = .int(Int64(d))
            default:
                break
            }
        }
        return .object(o)
    }
}

/// Streams content text while watching for tool calls written in it. Text that cannot be part of a call is
/// released at once; a possible call (`{`, a ``` fence, `<tool_call>`) is held until it is complete, then
/// either becomes a call (known tool) or is released as text.
struct ToolCallStreamer {
    let parser: ToolCallText
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already decided (released as text or consumed as a call).
    private var decided = 0
    private(set) var calls: [(name: String, arguments: JSON)] = []

    init(tools: [ToolSpec]) {
        parser = ToolCallText(tools: tools)
    }

    var isActive: Bool { !parser.tools.isEmpty }

    /// Appends generated text; returns the text that may be shown now.
    mutating func append(_ text: String) -> String {
        guard isActive else { return text }
        buffer.append(contentsOf: text.utf8)
        return scan(final: false)
    }

    /// The stream ended: decides everything still held and returns the text to show.
    mutating func finish() -> String {
        guard isActive else { return "" }
        return scan(final: true)
    }

    private static let openTag = Array("<tool_call>".utf8)
    private static let closeTag = Array("</tool_call>".utf8)
    private static let fence = Array("```".utf8)

    private mutating func scan(final: Bool) -> String {
        var released: [UInt8] = []
        while decided < buffer.count {
            guard let start = nextCandidate(from: decided, final: final) else {
                // No candidate start: release up to the end, except a possible partial marker, and trailing
                // whitespace (dropped if a call follows).
                var end = buffer.count - (final ? 0 : partialMarkerSuffix())
                if !final { end = trailingWhitespaceStart(before: end, notBefore: decided) }
                released.append(contentsOf: buffer[decided..<end])
                decided = end
                break
            }
            let keepFrom = trailingWhitespaceStart(before: start, notBefore: decided)
            released.append(contentsOf: buffer[decided..<keepFrom])
            decided = keepFrom
            switch examine(at: start, final: final) {
            case .undecided:
                return finishRelease(released)
            case .text(let end):
                released.append(contentsOf: buffer[decided..<end])
                decided = end
            case .call(let found, let end):
                // The whitespace between the text and the call is dropped, and so is the one after it.
                calls.append(contentsOf: found)
                decided = end
                while decided < buffer.count, Self.isSpace(buffer[decided]) { decided += 1 }
            }
        }
        return finishRelease(released)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// The start of the run of whitespace that ends at `end` (not before `notBefore`).
    private func trailingWhitespaceStart(before end: Int, notBefore: Int) -> Int {
        var i = end
        while i > notBefore && Self.isSpace(buffer[i - 1]) { i -= 1 }
        return i
    }

    private func finishRelease(_ bytes: [UInt8]) -> String {
        // Never cut a UTF-8 sequence: candidates start at ASCII bytes, so `bytes` ends on a boundary.
        String(decoding: bytes, as: UTF8.self)
    }

    private enum Verdict {
        case undecided
        case text(end: Int)
        case call([(name: String, arguments: JSON)], end: Int)
    }

    /// The next index at or after `from` where a call may start.
    private func nextCandidate(from: Int, final: Bool) -> Int? {
        var i = from
        while i < buffer.count {
            let b = buffer[i]
            if b == UInt8(ascii: "{") { return i }
            if b == UInt8(ascii: "[") {
                var j = i + 1
                while j < buffer.count, [0x20, 0x0A, 0x0D, 0x09].contains(buffer[j]) { j += 1 }
                if j == buffer.count && !final { return i }
                if j < buffer.count && buffer[j] == UInt8(ascii: "{") { return i }
            }
            if b == UInt8(ascii: "`") && hasPrefix(Self.fence, at: i) { return i }
            if b == UInt8(ascii: "<") && hasPrefix(Self.openTag, at: i) { return i }
            i += 1
        }
        return nil
    }

    private func hasPrefix(_ marker: [UInt8], at i: Int) -> Bool {
        i + marker.count <= buffer.count && buffer[i..<(i + marker.count)].elementsEqual(marker)
    }

    /// How many bytes at the end of the buffer could be the start of a marker ("<tool", "``").
    private func partialMarkerSuffix() -> Int {
        for marker in [Self.openTag, Self.fence] {
            for length in stride(from: min(marker.count - 1, buffer.count - decided), through: 1, by: -1)
            where buffer[(buffer.count - length)...].elementsEqual(marker[0..<length]) {
                return length
            }
        }
        return 0
    }

    private func examine(at start: Int, final: Bool) -> Verdict {
        if hasPrefix(Self.openTag, at: start) {
            let bodyStart = start + Self.openTag.count
            let closeAt = find(Self.closeTag, from: bodyStart)
            if closeAt == nil && !final { return .undecided }
            let bodyEnd = closeAt ?? buffer.count
            let end = closeAt.map { $0 + Self.closeTag.count } ?? buffer.count
            let inner = String(decoding: buffer[bodyStart..<bodyEnd], as: UTF8.self)
            let found = callsIn(inner)
            return found.isEmpty ? .text(end: end) : .call(found, end: end)
        }
        if hasPrefix(Self.fence, at: start) {
            // ```lang\n ... ```: only json-ish fences whose body starts with { or [ can hold a call.
            let afterFence = start + Self.fence.count
            guard let newline = buffer[afterFence...].firstIndex(of: 0x0A) else {
                return final ? .text(end: buffer.count) : .undecided
            }
            let language = String(decoding: buffer[afterFence..<newline], as: UTF8.self).trimmingSpaces.lowercased()
            guard ["", "json", "tool_call", "tool", "json5"].contains(language) else {
                return .text(end: newline + 1)
            }
            var first = newline + 1
            while first < buffer.count, [0x20, 0x0A, 0x0D, 0x09].contains(buffer[first]) { first += 1 }
            if first == buffer.count { return final ? .text(end: buffer.count) : .undecided }
            guard buffer[first] == UInt8(ascii: "{") || buffer[first] == UInt8(ascii: "[") else {
                return .text(end: newline + 1)
            }
            let closeAt = find(Self.fence, from: first)
            if closeAt == nil && !final { return .undecided }
            let bodyEnd = closeAt ?? buffer.count
            let end = closeAt.map { $0 + Self.fence.count } ?? buffer.count
            let found = callsIn(String(decoding: buffer[first..<bodyEnd], as: UTF8.self))
            return found.isEmpty ? .text(end: newline + 1) : .call(found, end: end)
        }
        // A bare object or array.
        guard let end = ToolCallText.balancedEnd(buffer, from: start) else {
            guard final else { return .undecided }
            // The stream ended inside it: a call the model did not close?
            let rest = String(decoding: buffer[start...], as: UTF8.self)
            if let value = ToolCallText.parseCandidate(rest.trimmingSpaces) {
                let found = parser.calls(in: value)
                if !found.isEmpty { return .call(found, end: buffer.count) }
            }
            return .text(end: start + 1)
        }
        let text = String(decoding: buffer[start..<end], as: UTF8.self)
        if let value = ToolCallText.parseCandidate(text) {
            let found = parser.calls(in: value)
            if !found.isEmpty { return .call(found, end: end) }
        }
        return .text(end: start + 1)
    }

    /// Calls in a tag or fence body: one JSON value, or several (one per line, as Hermes-style models write
    /// parallel calls).
    private func callsIn(_ inner: String) -> [(name: String, arguments: JSON)] {
        let trimmed = inner.trimmingSpaces
        if let value = ToolCallText.parseCandidate(trimmed) { return parser.calls(in: value) }
        var found: [(name: String, arguments: JSON)] = []
        let bytes = Array(trimmed.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "{"), let end = ToolCallText.balancedEnd(bytes, from: i) {
                if let v = ToolCallText.parseCandidate(String(decoding: bytes[i..<end], as: UTF8.self)) {
                    let calls = parser.calls(in: v)
                    if calls.isEmpty { return [] }
                    found += calls
                }
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    private func find(_ marker: [UInt8], from: Int) -> Int? {
        var i = from
        while i + marker.count <= buffer.count {
            if buffer[i] == marker[0] && buffer[i..<(i + marker.count)].elementsEqual(marker) { return i }
            i += 1
        }
        return nil
    }
}
