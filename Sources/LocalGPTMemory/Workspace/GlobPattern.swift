//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// A path glob: `*` and `?` match within one path segment, `**` matches any number of segments.
/// Matching is case-sensitive, on `/`-separated relative paths (`notes/2024/a.md`).
public struct GlobPattern: Sendable, Equatable {
    public let pattern: String
    private let segments: [[UInt8]]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
    }

    /// Whether a relative path matches.
    public func matches(_ relativePath: String) -> Bool {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
        return Self.match(segments[...], parts[...])
    }

    private static func match(_ pat: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let head = pat.first else { return path.isEmpty }
        if head == Array("**".utf8) {
            let rest = pat.dropFirst()
            var p = path
            while true {
                if match(rest, p) { return true }
                if p.isEmpty { return false }
                p = p.dropFirst()
            }
        }
        guard let seg = path.first, segment(head[...], seg[...]) else { return false }
        return match(pat.dropFirst(), path.dropFirst())
    }

    private static func segment(_ pat: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        guard let c = pat.first else { return s.isEmpty }
        if c == UInt8(ascii: "*") {
            var rest = s
            while true {
                if segment(pat.dropFirst(), rest) { return true }
                if rest.isEmpty { return false }
                rest = rest.dropFirst()
            }
        }
        guard let d = s.first else { return false }
        if c == UInt8(ascii: "?") || c == d { return segment(pat.dropFirst(), s.dropFirst()) }
        return false
    }
}
