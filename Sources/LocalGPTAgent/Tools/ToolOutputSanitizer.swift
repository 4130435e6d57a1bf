//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
public import LocalGPTCore

/// Turns a tool's output into data the model reads as data: capped, model-control markers and our
/// own delimiters neutralised, suspicious phrases reported, wrapped in `<tool_output>`.
public enum ToolOutputSanitizer {
    /// The default cap (`tools.tool_output_max_chars`).
    public static let defaultMaxCharacters = 50_000

    /// Delimiters the context uses; inside data they are replaced so data cannot close its wrapper.
    static let delimiters = [
        "<tool_output", "</tool_output>", "<memory_context", "</memory_context>", "<external_content",
        "</external_content>", "<skill_content", "</skill_content>",
    ]

    /// A sanitised output.
    public struct Result: Sendable, Equatable {
        /// The wrapped text the model sees.
        public var text: String
        /// Suspicious phrases found, for the user (`ignore previous instructions`, line 3).
        public var warnings: [InjectionPatterns.Match]
        /// Characters cut by the cap (0 when none).
        public var truncatedCharacters: Int
        /// Markers and delimiters replaced by `[FILTERED]`.
        public var filteredMarkers: Int
    }

    /// Caps, neutralises and wraps `output` as `<tool_output>\n<!-- tool: NAME -->\n…\n</tool_output>`.
    ///
    /// The cap cuts with `secretMasker` (``SecretMasker/cut(_:keepingFirst:)``): a secret it goes
    /// through is written `********`, since its first characters alone are no longer a secret the
    /// masker finds when the result is saved. Whole secrets are left as they are (masked on the way
    /// to the disk).
    public static func wrap(
        toolName: String,
        output: String,
        maxCharacters: Int = defaultMaxCharacters,
        secretMasker: SecretMasker = SecretMasker()
    ) -> Result {
        var text = output
        var cut = 0
        if maxCharacters > 0 && text.utf8.count > maxCharacters {
            let count = text.count
            if count > maxCharacters {
                cut = count - maxCharacters
                text =
                    secretMasker.cut(text, keepingFirst: maxCharacters)
                    + "\n[...truncated \(cut) characters. \(moreHint(toolName))]"
            }
        }
        let (neutral, filtered) = neutralise(text)
        let warnings = InjectionPatterns.suspiciousPhrases(in: neutral)
        let safeName = String(toolName.filter { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "/" })
        return Result(
            text: "<tool_output>\n<!-- tool: \(safeName) -->\n\(neutral)\n</tool_output>",
            warnings: warnings,
            truncatedCharacters: cut,
            filteredMarkers: filtered
        )
    }

    /// How the model can see what the cap cut, for the tool that produced it.
    public static func moreHint(_ toolName: String) -> String {
        switch toolName.split(separator: "/").last ?? "" {
        case "read_file":
            return "Call read_file again with a larger offset, or a smaller limit, to see more."
        case "bash":
            return "To see more, write the command's output to a file in the workspace and read it with "
                + "read_file (offset, limit), or narrow it with grep, head or tail."
        default:
            return "The rest was cut."
        }
    }

    /// Model-control markers (the shared ``InjectionPatterns`` list) and the context delimiters replaced
    /// by `[FILTERED]`, case-insensitively.
    public static func neutralise(_ text: String) -> (text: String, count: Int) {
        var (out, count) = InjectionPatterns.filterMarkers(text)
        guard out.contains("<") else { return (out, count) }
        let lower = out.lowercased()
        guard delimiters.contains(where: { lower.contains($0) }) else { return (out, count) }
        for d in delimiters {
            var result = ""
            var rest = Substring(out)
            while let r = rest.range(of: d, options: .caseInsensitive) {
                result += rest[rest.startIndex..<r.lowerBound]
                result += InjectionPatterns.filteredMarker
                rest = rest[r.upperBound...]
                count += 1
            }
            out = result + rest
        }
        return (out, count)
    }

    /// The body of a wrapped output (for exports and previews).
    public static func unwrap(_ wrapped: String) -> String {
        guard wrapped.hasPrefix("<tool_output>\n"), wrapped.hasSuffix("\n</tool_output>") else { return wrapped }
        var body = wrapped.dropFirst("<tool_output>\n".count).dropLast("\n</tool_output>".count)
        if body.hasPrefix("<!-- tool:"), let nl = body.firstIndex(of: "\n") { body = body[body.index(after: nl)...] }
        return String(body)
    }

    /// The text of a tool's JSON result for the model: the `output` member when the tool gives one,
    /// else the JSON itself.
    public static func text(ofResult json: String) -> String {
        guard json.contains("\"output\""), let doc = try? JSONValue(parsing: json), let s = doc["output"]?.stringValue
        else { return json }
        return s
    }
}
