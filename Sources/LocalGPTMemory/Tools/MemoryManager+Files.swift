//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Foundation
import LocalGPTCore

/// A window of a memory file, as `memory_get` returns it.
public struct FileExcerpt: Sendable, Equatable {
    /// As given, normalised (relative to the workspace when inside it).
    public var file: String
    /// The first line returned (1-based).
    public var from: Int
    /// The last line returned (inclusive); `from - 1` when the window is past the end.
    public var to: Int
    /// The file's line count.
    public var totalLines: Int
    /// The lines `from...to`.
    public var lines: [String]

    /// `# <file> (lines a-b of N)` then each line as `%4d\t<line>` (the reference's format).
    public var numberedText: String {
        var out = "# \(file) (lines \(from)-\(to) of \(totalLines))\n"
        for (i, line) in lines.enumerated() {
            let n = String(from + i)
            out += String(repeating: " ", count: max(0, 4 - n.count)) + n + "\t" + line + "\n"
        }
        return out
    }
}

/// Where an append landed.
public struct AppendResult: Sendable, Equatable {
    public var file: String
    public var lineStart: Int
    public var lineEnd: Int
}

extension MemoryManager {
    /// The most lines `memory_get` returns at once.
    public static let maxGetLines = 10_000

    /// Reads lines of a workspace file (or of an extra indexed root), confined: rejects `..`, NUL
    /// bytes, absolute paths outside the workspace, and symlinks whose target leaves it.
    ///
    /// - Parameters:
    ///   - path: `MEMORY.md`, `memory/2024-05-01.md`, or absolute inside the workspace.
    ///   - from: first line, 1-based (default 1).
    ///   - lines: how many (default 50, at most 10,000).
    /// - Returns: the lines and where they are in the file.
    /// - Throws: ``MemoryError`` (`invalidArgument`, `pathOutsideWorkspace`, `notFound`, `notAFile`).
    public func get(path: String, from: Int = 1, lines: Int = 50) throws(MemoryError) -> FileExcerpt {
        guard from >= 1 else { throw .invalidArgument("from must be 1 or more") }
        guard (1...Self.maxGetLines).contains(lines) else {
            throw .invalidArgument("lines must be between 1 and \(Self.maxGetLines)")
        }
        let (absolute, display) = try workspace.resolve(path, allowedRoots: configuration.extraRoots.map(\.path))
        let bytes = try FileInfo.read(absolute, limit: 256 << 20)
        if bytes.prefix(MemoryIndex.binaryProbeBytes).contains(0) {
            throw .invalidArgument("\(display) is a binary file")
        }
        var all = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if all.last == "" { all.removeLast() }
        let start = min(from, all.count + 1)
        let end = min(all.count, from + lines - 1)
        let slice = start <= end ? all[(start - 1)..<end].map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) } : []
        return FileExcerpt(
            file: display,
            from: start,
            to: start <= end ? end : start - 1,
            totalLines: all.count,
            lines: slice
        )
    }

    /// Appends a fact to MEMORY.md as a list item (`- fact`).
    ///
    /// - Throws: ``MemoryError`` for an empty fact or a write failure.
    @discardableResult
    public func save(fact: String) throws(MemoryError) -> AppendResult {
        try appendEntry(fact, to: "MEMORY.md", header: "# Memory")
    }

    /// Appends an entry to today's daily log `memory/YYYY-MM-DD.md` as `- HH:MM entry`.
    ///
    /// - Throws: ``MemoryError`` for an empty entry or a write failure.
    @discardableResult
    public func log(entry: String, date: Date = Date()) throws(MemoryError) -> AppendResult {
        let day = Workspace.dayString(date)
        let time = Self.timeString(date)
        return try appendEntry(entry, to: Workspace.dailyLogName(for: date), header: "# \(day)", prefix: time + " ")
    }

    /// Appends raw text to a workspace file (the plugin host's `memory_append` with a `file`).
    ///
    /// - Throws: ``MemoryError`` for an empty text, a path outside the workspace, a write failure.
    @discardableResult
    public func append(text: String, to file: String) throws(MemoryError) -> AppendResult {
        let clean = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if clean.isEmpty { throw .invalidArgument("the text is empty") }
        guard file.hasSuffix(".md") else { throw .invalidArgument("only markdown (.md) files can be appended to") }
        let (_, display) = try workspace.resolve(file, mustExist: false)
        guard !display.hasPrefix("/") else { throw .outside("\(file) is outside the workspace") }
        let range = try workspace.append(clean, to: display)
        return AppendResult(file: display, lineStart: range.lowerBound, lineEnd: range.upperBound)
    }

    private func appendEntry(
        _ text: String,
        to file: String,
        header: String,
        prefix: String = ""
    ) throws(MemoryError) -> AppendResult {
        let clean = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if clean.isEmpty { throw .invalidArgument("the text is empty") }
        // 128 KiB: whatever the tools' schema lets through (20,000 characters, at most 4 bytes
        // each) fits; a 64 KiB limit refused 19,000 emoji the schema had accepted.
        if clean.utf8.count > 128 << 10 {
            throw MemoryError(code: .tooLarge, message: "the text is longer than 128 KiB")
        }
        let range = try workspace.append(DisplayText.markdownListItem(prefix + clean), to: file, header: header)
        return AppendResult(file: file, lineStart: range.lowerBound, lineEnd: range.upperBound)
    }

    static func timeString(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return String(format: "%02d:%02d", Int(tmv.tm_hour), Int(tmv.tm_min))
    }
}
