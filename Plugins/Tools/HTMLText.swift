// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// HTML to readable text: the main content, headings and list items marked, scripts and navigation gone.

/// Reduces an HTML page to readable text. A tolerant scanner, not a parser: it never fails.
enum HTMLText {
    /// Elements whose content is dropped.
    static let dropped: Set<String> = [
        "script", "style", "noscript", "template", "svg", "iframe", "head", "nav", "footer", "aside", "form", "button",
        "select", "canvas", "object",
    ]
    /// Elements that end a paragraph.
    static let blocks: Set<String> = [
        "p", "div", "section", "article", "main", "header", "ul", "ol", "table", "blockquote", "pre", "figure",
        "dl", "hr", "address", "details", "summary",
    ]

    static func looksLikeHTML(_ bytes: [UInt8]) -> Bool {
        let head = String(decoding: bytes.prefix(512), as: UTF8.self).lowercased()
        return head.contains("<html") || head.contains("<!doctype html") || head.contains("<body")
    }

    /// `# Title` (when there is one), then the text of `<main>` or `<article>` if present, else `<body>`.
    static func readable(_ html: String) -> String {
        let bytes = Array(html.utf8)
        let lower = bytes.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }
        let title = innerText(of: "title", in: bytes, lower: lower).map { collapse(decodeEntities($0)) } ?? ""
        var range = 0..<bytes.count
        for container in ["main", "article", "body"] {
            if let r = innerRange(of: container, in: lower) {
                range = r
                break
            }
        }
        var text = render(Array(bytes[range]), lower: Array(lower[range]))
        text = tidy(text)
        if !title.isEmpty && !text.hasPrefix("# ") { text = "# " + title + "\n\n" + text }
        return text
    }

    /// The byte range inside the first `<name ...>` and the last `</name>`.
    static func innerRange(of name: String, in lower: [UInt8]) -> Range<Int>? {
        let open = Array("<\(name)".utf8)
        let close = Array("</\(name)>".utf8)
        guard let start = find(open, in: lower, from: 0, boundary: true),
            let gt = lower[start...].firstIndex(of: UInt8(ascii: ">"))
        else { return nil }
        var end = lower.count
        var search = gt
        while let c = find(close, in: lower, from: search, boundary: false) {
            end = c
            search = c + 1
        }
        return (gt + 1)..<max(gt + 1, end)
    }

    static func innerText(of name: String, in bytes: [UInt8], lower: [UInt8]) -> String? {
        let open = Array("<\(name)".utf8)
        let close = Array("</\(name)>".utf8)
        guard let start = find(open, in: lower, from: 0, boundary: true),
            let gt = lower[start...].firstIndex(of: UInt8(ascii: ">")),
            let end = find(close, in: lower, from: gt, boundary: false)
        else { return nil }
        return String(decoding: bytes[(gt + 1)..<end], as: UTF8.self)
    }

    /// The first index of `needle` at or after `from`; with `boundary`, the next byte must end a tag name.
    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int, boundary: Bool) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) {
                let next = i + needle.count < hay.count ? hay[i + needle.count] : UInt8(ascii: ">")
                if !boundary || next == UInt8(ascii: ">") || next == UInt8(ascii: " ") || next == UInt8(ascii: "\n")
                    || next == UInt8(ascii: "\t") || next == UInt8(ascii: "/") || next == UInt8(ascii: "\r")
                {
                    return i
                }
            }
            i += 1
        }
        return nil
    }

    static func render(_ bytes: [UInt8], lower: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var i = 0
        var preDepth = 0
        func newline(_ n: Int) {
            var have = 0
            var j = out.count - 1
            while j >= 0 && (out[j] == UInt8(ascii: "\n") || out[j] == UInt8(ascii: " ")) {
                if out[j] == UInt8(ascii: "\n") { have += 1 }
                j -= 1
            }
            if j < 0 { return }
            for _ in have..<max(have, n) { out.append(UInt8(ascii: "\n")) }
        }
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "<") else {
                if preDepth == 0 && (c == UInt8(ascii: "\n") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r")) {
                    out.append(UInt8(ascii: " "))
                } else {
                    out.append(c)
                }
                i += 1
                continue
            }
            // Comments.
            if lower[i...].starts(with: Array("<!--".utf8)) {
                if let end = find(Array("-->".utf8), in: lower, from: i + 4, boundary: false) {
                    i = end + 3
                } else {
                    i = bytes.count
                }
                continue
            }
            guard let gt = lower[i...].firstIndex(of: UInt8(ascii: ">")) else {
                i = bytes.count
                break
            }
            var nameStart = i + 1
            let closing = nameStart < gt && lower[nameStart] == UInt8(ascii: "/")
            if closing { nameStart += 1 }
            var nameEnd = nameStart
            while nameEnd < gt, isNameByte(lower[nameEnd]) { nameEnd += 1 }
            let name = String(decoding: lower[nameStart..<nameEnd], as: UTF8.self)
            i = gt + 1
            if name.isEmpty { continue }
            if !closing && dropped.contains(name) {
                let close = Array("</\(name)".utf8)
                if let end = find(close, in: lower, from: i, boundary: true),
                    let endGT = lower[end...].firstIndex(of: UInt8(ascii: ">"))
                {
                    i = endGT + 1
                } else if lower[gt - 1] != UInt8(ascii: "/") {
                    i = bytes.count
                }
                continue
            }
            switch name {
            case "br": out.append(UInt8(ascii: "\n"))
            case "li":
                if !closing {
                    newline(1)
                    out.append(contentsOf: Array("- ".utf8))
                }
            case "tr", "dt", "dd": newline(1)
            case "td", "th": if !closing { out.append(contentsOf: Array(" | ".utf8)) }
            case "h1", "h2", "h3", "h4", "h5", "h6":
                newline(2)
                if !closing {
                    let level = min(3, Int(name.utf8.last! - UInt8(ascii: "0")))
                    out.append(contentsOf: Array(String(repeating: "#", count: level).utf8) + [UInt8(ascii: " ")])
                }
            case "pre":
                preDepth = max(0, preDepth + (closing ? -1 : 1))
                newline(2)
            default:
                if blocks.contains(name) { newline(2) }
            }
        }
        return decodeEntities(String(decoding: out, as: UTF8.self))
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == UInt8(ascii: "-")
    }

    /// Spaces collapsed within lines, lines trimmed, at most one blank line in a row.
    static func tidy(_ text: String) -> String {
        var lines: [String] = []
        var blank = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = collapse(String(raw))
            if line.isEmpty {
                blank += 1
                if blank == 1 && !lines.isEmpty { lines.append("") }
                continue
            }
            blank = 0
            lines.append(line)
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    static func collapse(_ s: String) -> String {
        s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\u{00A0}" || $0 == "\r" }).joined(separator: " ")
    }

    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "mdash": "—", "ndash": "–",
        "hellip": "…", "copy": "©", "reg": "®", "trade": "™", "laquo": "«", "raquo": "»", "rsquo": "’",
        "lsquo": "‘", "rdquo": "”", "ldquo": "“", "middot": "·", "bull": "•", "euro": "€", "pound": "£",
        "times": "×", "deg": "°",
    ]

    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[rest.startIndex..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semi = after.prefix(12).firstIndex(of: ";") {
                let name = String(after[after.startIndex..<semi])
                var replacement: String? = entities[name]
                if replacement == nil, name.hasPrefix("#") {
                    let digits = name.dropFirst()
                    let value =
                        digits.hasPrefix("x") || digits.hasPrefix("X")
                        ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                    if let value, let scalar = Unicode.Scalar(value) { replacement = String(Character(scalar)) }
                }
                if let replacement {
                    out += replacement
                    rest = after[after.index(after: semi)...]
                    continue
                }
            }
            out += "&"
            rest = after
        }
        out += rest
        return out
    }
}
