// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// bash, read_file, write_file, edit_file: every effect goes through the host (exec, lgpt.host.files/1).

import CLocalGPTPlugin
import Foundation

/// The tools of `org.localgpt.tools`. Stateless: safe from many threads at once (rule R6). Every result
/// is `{"output": "<text for the model>", ...details}`.
enum AgentTools {
    /// Runs a tool by its manifest name. The host already validated `arguments` against the schema.
    ///
    /// - Throws: ``ToolFailure`` with the status and message the model sees.
    static func run(_ name: String, arguments: [UInt8], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        guard let args = JSON.object(arguments) else { throw .invalidArgument("the arguments must be a JSON object") }
        switch name {
        case "bash": return try bash(args, host: host)
        case "read_file": return try readFile(args, host: host)
        case "write_file": return try writeFile(args, host: host)
        case "edit_file": return try editFile(args, host: host)
        case "web_fetch": return try WebFetch.run(args, host: host)
        default: throw .notFound("unknown tool \"\(name)\"")
        }
    }

    static func string(_ args: [String: Any], _ key: String) throws(ToolFailure) -> String {
        guard let s = args[key] as? String else { throw .invalidArgument("missing string argument \"\(key)\"") }
        return s
    }

    // MARK: bash

    /// `bash`: only through the host's sandboxed exec (`{"shell": ...}`); a non-zero exit is a result.
    static func bash(_ args: [String: Any], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        let command = try string(args, "command")
        let timeout = JSON.int(args["timeout_ms"]) ?? JSON.int(host.config("tools.bash_timeout_ms")) ?? 30_000
        let reply = try host.exec(["shell": command, "timeout_ms": timeout])
        let stdout = reply["stdout"] as? String ?? ""
        let stderr = reply["stderr"] as? String ?? ""
        let exit = JSON.int(reply["exit_code"])
        let signal = JSON.int(reply["signal"]) ?? 0
        var text = stdout
        if !stderr.isEmpty {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += (text.isEmpty ? "" : "\n") + "STDERR:\n" + stderr
        }
        if reply["stdout_truncated"] as? Bool == true {
            text += "\n[stdout truncated: \(JSON.int(reply["stdout_bytes"]) ?? 0) bytes in total]"
        }
        if reply["stderr_truncated"] as? Bool == true {
            text += "\n[stderr truncated: \(JSON.int(reply["stderr_bytes"]) ?? 0) bytes in total]"
        }
        if reply["timed_out"] as? Bool == true {
            // A cut ends in "…", the clipped form the host's secret masker hides (`sk-proj-Ab…`).
            let shown = text.count > 4000 ? String(text.prefix(4000)) + "…" : text
            let partial = text.isEmpty ? "" : "\nOutput before the timeout:\n" + shown
            throw ToolFailure(status: LGPT_ERR_TIMEOUT, message: "Command timed out after \(timeout) ms" + partial)
        }
        if let exit, exit != 0 {
            text += (text.isEmpty ? "" : "\n") + "[exit code \(exit)]"
        } else if exit == nil {
            text += (text.isEmpty ? "" : "\n") + "[killed by signal \(signal)]"
        }
        if text.isEmpty { text = "(no output, exit code 0)" }
        return ["output": text, "exit_code": exit.map { $0 as Any } ?? NSNull()]
    }

    // MARK: files

    /// `read_file`: numbered lines (`%6d<TAB>line`, 1-based) and a footer when more lines follow.
    static func readFile(_ args: [String: Any], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        let path = try string(args, "path")
        let offset = JSON.int(args["offset"]) ?? 0
        let limit = JSON.int(args["limit"]) ?? 2000
        let r = try host.file(.read, ["path": path, "offset": offset, "limit": limit])
        let shown = r["path"] as? String ?? path
        let content = r["content"] as? String ?? ""
        let first = JSON.int(r["first_line"]) ?? 1
        let count = JSON.int(r["line_count"]) ?? 0
        let total = JSON.int(r["total_lines"]) ?? 0
        var text = ""
        if total == 0 {
            text = "(\(shown) is empty)"
        } else if count == 0 {
            text = "(\(shown) has \(total) lines; offset \(offset) is past the end)"
        } else {
            var number = first
            var lines = content.split(separator: "\n", omittingEmptySubsequences: false)
            if content.hasSuffix("\n") { lines.removeLast() }
            text.reserveCapacity(content.utf8.count + lines.count * 8)
            for line in lines {
                let n = String(number)
                text += String(repeating: " ", count: max(0, 6 - n.count)) + n + "\t" + line + "\n"
                number += 1
            }
            let last = first + count - 1
            if last < total {
                text += "[lines \(first)-\(last) of \(total); read on with offset=\(last)]\n"
            }
        }
        return ["output": text, "path": shown, "total_lines": total]
    }

    static func writeFile(_ args: [String: Any], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        let path = try string(args, "path")
        let content = try string(args, "content")
        let r = try host.file(.write, ["path": path, "content": content])
        let shown = r["path"] as? String ?? path
        let bytes = JSON.int(r["bytes"]) ?? content.utf8.count
        let created = r["created"] as? Bool ?? false
        return ["output": "\(created ? "Created" : "Wrote") \(shown) (\(bytes) bytes)", "path": shown, "bytes": bytes]
    }

    static func editFile(_ args: [String: Any], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        let path = try string(args, "path")
        let r = try host.file(
            .edit,
            [
                "path": path, "old_string": try string(args, "old_string"),
                "new_string": try string(args, "new_string"), "replace_all": args["replace_all"] as? Bool ?? false,
            ]
        )
        let shown = r["path"] as? String ?? path
        let n = JSON.int(r["replacements"]) ?? 0
        return ["output": "Replaced \(n) occurrence\(n == 1 ? "" : "s") in \(shown)", "path": shown, "replacements": n]
    }
}
