// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// web_fetch: GET through the host's HTTP service with "public_only", HTML reduced to readable text.

import CLocalGPTPlugin
import Foundation

/// `web_fetch`. The host refuses private, loopback and link-local addresses after DNS resolution and
/// on every redirect (the manifest's `"*"` grant means "any public host"); this side only checks the
/// scheme, bounds the download and turns the body into text.
enum WebFetch {
    /// The most bytes downloaded; the rest of a larger body is not fetched.
    static let maxDownloadBytes = 2 << 20
    /// The default number of characters returned (`tools.web_fetch_max_chars` overrides it).
    static let defaultMaxCharacters = 12_000

    static func run(_ args: [String: Any], host: HostBridge) throws(ToolFailure) -> [String: Any] {
        let url = try AgentTools.string(args, "url").trimmingCharacters(in: .whitespaces)
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw .invalidArgument("only http and https URLs can be fetched")
        }
        let maxChars =
            JSON.int(args["max_chars"]) ?? JSON.int(host.config("tools.web_fetch_max_chars")) ?? defaultMaxCharacters
        let request: [String: Any] = [
            "method": "GET", "url": url, "timeout_ms": 30_000, "public_only": true,
            "headers": [
                "User-Agent": "LocalGPT-Swift/0.1 (web_fetch)",
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5",
            ],
        ]
        let response = try host.http(request, bodyLimit: maxDownloadBytes)
        let status = JSON.int(response.head["status"]) ?? 0
        let headers = response.head["headers"] as? [String: Any] ?? [:]
        let contentType = (headers["content-type"] as? String) ?? ""
        let type = contentType.lowercased()
        var text: String
        if type.contains("html") || (type.isEmpty && HTMLText.looksLikeHTML(response.body)) {
            text = HTMLText.readable(String(decoding: response.body, as: UTF8.self))
        } else if type.isEmpty || type.hasPrefix("text/") || type.contains("json") || type.contains("xml")
            || type.contains("javascript")
        {
            text = String(decoding: response.body, as: UTF8.self)
        } else {
            text = "(\(contentType) content, \(response.body.count) bytes, is not text and is not shown)"
        }
        // A cut ends in "…": a key it goes through then reads `sk-proj-Ab…`, the clipped form the
        // host's secret masker hides where the result is saved (this plugin knows no secrets).
        let total = text.count
        if total > maxChars {
            text = String(text.prefix(maxChars)) + "…\n[truncated: \(total) characters in total]"
        } else if response.truncated {
            text += "…\n[truncated: the page is larger than \(maxDownloadBytes >> 20) MiB]"
        }
        let output = "Status: \(status)\nURL: \(url)\nContent-Type: \(contentType)\n\n" + text
        return ["output": output, "status": status, "content_type": contentType]
    }
}
