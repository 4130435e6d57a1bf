//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Text from notes, files and models made safe to put in a markdown file or on a terminal.
public enum DisplayText {
    /// `text` as one markdown list item: `- ` and its continuation lines indented under it, so no
    /// line of it can become a heading of the file. Any line ending ends a line (CRLF is one
    /// Character, which a split at "\n" misses).
    public static func markdownListItem(_ text: String) -> String {
        "- " + text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: "\n  ")
    }

    /// `text` with its control characters (C0, DEL, C1) replaced: a terminal would read ESC, BEL,
    /// backspace or CSI as commands (recolour, retitle the window, forge a line).
    public static func replacingControlCharacters(_ text: String, with replacement: Unicode.Scalar) -> String {
        func control(_ s: Unicode.Scalar) -> Bool { s.value < 0x20 || (0x7F...0x9F).contains(s.value) }
        guard text.unicodeScalars.contains(where: control) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { control($0) ? replacement : $0 }))
    }
}
