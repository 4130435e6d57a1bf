//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Synchronization

/// Hides the secret values LocalGPT knows in text before it is written anywhere: provider errors, the
/// log, session files, memory notes, the audit log.
///
/// Each occurrence of a secret becomes `********`. So does a clipped one: the secret's first
/// characters (at least six) directly followed by `…`, as a plugin or a server leaves a key it cut at
/// the edge of a message (`… sk-proj-Ab…` → `… ********…`). Where occurrences overlap (one key inside
/// or across another), their union is hidden. Values shorter than 8 characters are ignored: hiding
/// `abc` everywhere would destroy the text.
///
/// One masker is shared by everything a process writes with (the log handler, the audit log, the
/// session store, the plugin host), and it learns: ``add(secrets:)`` makes a value known to all of
/// them at once. The plugin host adds the secrets each plugin may read with `secret_get` before the
/// plugin's code runs (a key only in the environment is in no configuration).
///
/// Where LocalGPT shortens text itself (the tool-output cap, an excerpt in an error), it cuts with
/// ``cut(_:keepingFirst:)`` or ``cut(_:keepingLast:)``, which replace a secret the cut goes through:
/// cut afterwards, the rest of a key is no longer a key the masker can find. Text that something
/// else cut at its end (a command's output at the capture limit) goes through ``maskClippedEnd(_:)``.
///
/// ```swift
/// let masker = SecretMasker(configuration: configuration)  // once per process
/// let line = masker.mask(text)  // `text` itself when it holds no secret
/// ```
///
/// Text without a secret costs one pass over its UTF-8 bytes, 32 positions at a time, for all the
/// secrets together (the first, second and sixth byte of each secret are compared at every
/// position; only where all three agree are the secrets compared), and is returned as it is,
/// without a copy: 15–17 µs for 50 KB and four secrets (docs/PERFORMANCE.md).
public final class SecretMasker: Sendable {
    /// What a secret is replaced with.
    public static let replacement = "********"
    /// Shorter values are not secrets to mask.
    public static let minimumLength = 8
    /// A clipped occurrence (`prefix…`) is hidden when its prefix has at least this many characters.
    public static let minimumClippedLength = 6

    /// The scan's anchor: the first bytes every occurrence, whole or clipped, starts with.
    fileprivate static let anchorLength = minimumClippedLength
    /// `…` in UTF-8.
    fileprivate static let ellipsis: (UInt8, UInt8, UInt8) = (0xE2, 0x80, 0xA6)

    /// The secrets known now. A table never changes: ``add(secrets:)`` puts a new one in its place, so
    /// a call holds one consistent table for its whole scan.
    private let current: Mutex<Table>

    /// A masker that hides nothing (until secrets are added).
    public convenience init() {
        self.init(secrets: [String]())
    }

    /// A masker for these values; those shorter than ``minimumLength`` characters are ignored.
    public init(secrets values: some Sequence<String>) {
        current = Mutex(Table(Table.accepted(values, known: [])))
    }

    /// Makes `values` known from now on to this masker, and so to everything that holds it (the log
    /// handler, the audit log, sessions); those shorter than ``minimumLength`` characters are ignored.
    public func add(secrets values: some Sequence<String>) {
        current.withLock { table in
            let added = Table.accepted(values, known: Set(table.secrets))
            if !added.isEmpty { table = Table(table.secrets + added) }
        }
    }

    private var table: Table { current.withLock { $0 } }

    /// Whether there is no secret to hide.
    public var isEmpty: Bool { table.secrets.isEmpty }

    // MARK: Text

    /// `text` with every secret, whole or clipped, replaced by ``replacement``; `text` itself when
    /// it holds none.
    public func mask(_ text: String) -> String {
        table.mask(text)
    }

    /// Whether `text` holds a secret, whole or clipped.
    public func containsSecret(_ text: String) -> Bool {
        table.containsSecret(text)
    }

    // MARK: Cuts

    /// `text` cut to its first `count` characters without leaving part of a secret: a secret the cut
    /// goes through is replaced by ``replacement``, however few of its characters were kept (the whole
    /// text is at hand, so the secret is known for one). Secrets wholly kept are left for ``mask(_:)``
    /// to hide where the text is written. `text` itself when it has `count` characters or fewer.
    public func cut(_ text: String, keepingFirst count: Int) -> String {
        guard let end = text.index(text.startIndex, offsetBy: max(0, count), limitedBy: text.endIndex),
            end < text.endIndex
        else { return text }
        let table = self.table
        guard !table.secrets.isEmpty else { return String(text[..<end]) }
        let cut = text.utf8.distance(from: text.startIndex, to: end)
        var text = text
        return text.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            // An occurrence through the cut starts before it and ends within the longest secret and a
            // `…` after it; it is found from the text's start, for overlapping ones count as one.
            let window = UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, cut + table.longest + 3)])
            if let span = table.spans(in: window, from: 0).first(where: { $0.contains(cut) && $0.lowerBound < cut }) {
                return String(decoding: bytes[..<span.lowerBound], as: UTF8.self) + Self.replacement
            }
            return String(decoding: bytes[..<cut], as: UTF8.self)
        }
    }

    /// `text` cut to its last `count` characters without leaving part of a secret: a secret the cut
    /// goes through is replaced by ``replacement``, as ``cut(_:keepingFirst:)`` does at the other end.
    public func cut(_ text: String, keepingLast count: Int) -> String {
        guard let start = text.index(text.endIndex, offsetBy: -max(0, count), limitedBy: text.startIndex),
            start > text.startIndex
        else { return text }
        let table = self.table
        guard !table.secrets.isEmpty else { return String(text[start...]) }
        let cut = text.utf8.distance(from: text.startIndex, to: start)
        var text = text
        return text.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            // An occurrence through the cut starts less than the longest secret before it.
            let from = max(0, cut - table.longest)
            if let span = table.spans(in: bytes, from: from).first(where: { $0.contains(cut) && $0.lowerBound < cut }) {
                return Self.replacement + String(decoding: bytes[span.upperBound...], as: UTF8.self)
            }
            return String(decoding: bytes[cut...], as: UTF8.self)
        }
    }

    /// `text`, which something cut at its end without looking for secrets (a command's output at the
    /// capture limit), with a secret's first characters that end it — at least
    /// ``minimumClippedLength`` of them, as for a clipped occurrence (`prefix…`) — replaced by
    /// ``replacement``. Nothing else is masked; `text` itself when it does not end so.
    public func maskClippedEnd(_ text: String) -> String {
        let table = self.table
        guard !table.secrets.isEmpty else { return text }
        var text = text
        let masked = text.withUTF8 { utf8 -> String? in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard let start = table.clippedEnd(in: bytes) else { return nil }
            return String(decoding: bytes[..<start], as: UTF8.self) + Self.replacement
        }
        return masked ?? text
    }

    // MARK: JSON

    /// `value` with every string in it (object keys included) masked; `value` itself when it holds
    /// no secret.
    public func mask(_ value: JSONValue) -> JSONValue {
        let table = self.table
        guard table.containsSecret(value) else { return value }
        return table.masked(value)
    }

    /// Whether a string of `value` (or an object key) holds a secret.
    public func containsSecret(_ value: JSONValue) -> Bool {
        table.containsSecret(value)
    }
}

/// The secrets a ``SecretMasker`` knows at one time, ready for the scan.
private final class Table: Sendable {
    typealias Block = SIMD32<UInt8>

    /// The secrets' UTF-8 bytes, distinct.
    let secrets: [[UInt8]]
    /// The longest secret's length in bytes (0 without secrets).
    let longest: Int
    /// Per distinct anchor (the secrets' first ``SecretMasker/anchorLength`` bytes): the bytes the scan
    /// compares, and the secrets that start with it.
    private let filters: [Filter]
    private let groups: [[Int]]

    /// An anchor's first, second and last byte, each in every lane of a block.
    private struct Filter: Sendable {
        var first: Block
        var second: Block
        var last: Block

        init(_ anchor: ArraySlice<UInt8>) {
            first = Block(repeating: anchor[anchor.startIndex])
            second = Block(repeating: anchor[anchor.startIndex + 1])
            last = Block(repeating: anchor[anchor.endIndex - 1])
        }

        func matches(_ base: UnsafeRawPointer, at position: Int) -> Bool {
            base.load(fromByteOffset: position, as: UInt8.self) == first[0]
                && base.load(fromByteOffset: position + 1, as: UInt8.self) == second[0]
                && base.load(fromByteOffset: position + SecretMasker.anchorLength - 1, as: UInt8.self) == last[0]
        }
    }

    /// The UTF-8 bytes of the values that are secrets to mask (at least ``SecretMasker/minimumLength``
    /// characters) and not among `known`, each once.
    static func accepted(_ values: some Sequence<String>, known: Set<[UInt8]>) -> [[UInt8]] {
        var seen = known
        var out: [[UInt8]] = []
        for value in values where value.count >= SecretMasker.minimumLength {
            let bytes = Array(value.utf8)
            if seen.insert(bytes).inserted { out.append(bytes) }
        }
        return out
    }

    init(_ secrets: [[UInt8]]) {
        var anchors: [ArraySlice<UInt8>: Int] = [:]
        var groups: [[Int]] = []
        var filters: [Filter] = []
        for (index, secret) in secrets.enumerated() {
            let anchor = secret[0..<SecretMasker.anchorLength]
            if let group = anchors[anchor] {
                groups[group].append(index)
            } else {
                anchors[anchor] = groups.count
                groups.append([index])
                filters.append(Filter(anchor))
            }
        }
        self.secrets = secrets
        self.longest = secrets.map(\.count).max() ?? 0
        self.groups = groups
        self.filters = filters
    }

    // MARK: Text

    func mask(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var text = text
        let masked = text.withUTF8 { utf8 -> String? in
            let bytes = UnsafeRawBufferPointer(utf8)
            let spans = spans(in: bytes, from: 0)
            guard !spans.isEmpty else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var copied = 0
            for span in spans {
                out.append(contentsOf: bytes[copied..<span.lowerBound])
                out.append(contentsOf: SecretMasker.replacement.utf8)
                copied = span.upperBound
            }
            out.append(contentsOf: bytes[copied...])
            return String(decoding: out, as: UTF8.self)
        }
        return masked ?? text
    }

    func containsSecret(_ text: String) -> Bool {
        guard !secrets.isEmpty else { return false }
        var text = text
        return text.withUTF8 { !matches(in: UnsafeRawBufferPointer($0), from: 0, firstOnly: true).isEmpty }
    }

    // MARK: JSON

    func containsSecret(_ value: JSONValue) -> Bool {
        guard !secrets.isEmpty else { return false }
        switch value {
        case .string(let s): return containsSecret(s)
        case .array(let a): return a.contains(where: containsSecret)
        case .object(let o): return o.contains { containsSecret($0.key) || containsSecret($0.value) }
        default: return false
        }
    }

    func masked(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(mask(s))
        case .array(let a): return .array(a.map(masked))
        case .object(let o):
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(o.count)
            for (key, child) in o { out[mask(key)] = masked(child) }
            return .object(out)
        default: return value
        }
    }

    // MARK: Scan

    /// The byte ranges to hide, overlapping occurrences joined, in order, for the occurrences that
    /// start at `from` or later.
    func spans(in bytes: UnsafeRawBufferPointer, from: Int) -> [Range<Int>] {
        let found = matches(in: bytes, from: from, firstOnly: false)
        guard var current = found.first else { return [] }
        var spans: [Range<Int>] = []
        for range in found.dropFirst() {
            if range.lowerBound < current.upperBound {
                current = current.lowerBound..<max(current.upperBound, range.upperBound)
            } else {
                spans.append(current)
                current = range
            }
        }
        spans.append(current)
        return spans
    }

    /// The byte ranges to hide, one per position from `from` on where a secret starts (the longest
    /// there), in order of position; with `firstOnly`, at most one.
    private func matches(in bytes: UnsafeRawBufferPointer, from: Int, firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let count = bytes.count
        guard count >= SecretMasker.anchorLength, let base = bytes.baseAddress else { return found }
        let gap = SecretMasker.anchorLength - 1
        var position = from
        let lanes = Block.scalarCount
        filters.withUnsafeBufferPointer { filters in
            // A block of starting positions at a time: the bytes there, one further, and `gap` further.
            // (32 lanes measured faster than 16 or 64 on x86-64 without AVX flags.)
            while position + lanes + gap <= count {
                let heads = base.loadUnaligned(fromByteOffset: position, as: Block.self)
                let nexts = base.loadUnaligned(fromByteOffset: position + 1, as: Block.self)
                let tails = base.loadUnaligned(fromByteOffset: position + gap, as: Block.self)
                var hit = SIMDMask<SIMD32<Int8>>(repeating: false)
                for f in filters {
                    hit .|= (heads .== f.first) .& (nexts .== f.second) .& (tails .== f.last)
                }
                if any(hit) {
                    for lane in 0..<lanes where hit[lane] {
                        if let range = match(at: position + lane, in: base, count: count) {
                            found.append(range)
                            if firstOnly { return }
                        }
                    }
                }
                position += lanes
            }
        }
        if firstOnly && !found.isEmpty { return found }
        while position + SecretMasker.anchorLength <= count {
            if let range = match(at: position, in: base, count: count) {
                found.append(range)
                if firstOnly { return found }
            }
            position += 1
        }
        return found
    }

    /// The longest occurrence, whole or clipped, of a secret starting at `position`.
    private func match(at position: Int, in base: UnsafeRawPointer, count: Int) -> Range<Int>? {
        var longest = 0
        for group in filters.indices where filters[group].matches(base, at: position) {
            for index in groups[group] {
                secrets[index].withUnsafeBufferPointer { secret in
                    let limit = min(secret.count, count - position)
                    var length = 0
                    while length < limit
                        && base.load(fromByteOffset: position + length, as: UInt8.self) == secret[length]
                    {
                        length += 1
                    }
                    if length == secret.count
                        || (Self.isClipped(secret, length) && Self.isEllipsis(at: position + length, base, count))
                    {
                        longest = max(longest, length)
                    }
                }
            }
        }
        return longest > 0 ? position..<(position + longest) : nil
    }

    /// Where the longest clipped occurrence that ends `bytes` starts: a secret's first bytes, at least
    /// ``SecretMasker/minimumClippedLength`` characters and fewer than all, up to the last byte.
    func clippedEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        guard count >= SecretMasker.anchorLength, let base = bytes.baseAddress else { return nil }
        // The earliest start first: the longest prefix. A clipped occurrence is shorter than the longest secret.
        for position in stride(from: max(0, count - longest + 1), through: count - SecretMasker.anchorLength, by: 1) {
            for group in filters.indices where filters[group].matches(base, at: position) {
                for index in groups[group] where secrets[index].count > count - position {
                    let length = count - position
                    let found = secrets[index].withUnsafeBufferPointer { secret in
                        Self.isClipped(secret, length)
                            && (0..<length).allSatisfy {
                                base.load(fromByteOffset: position + $0, as: UInt8.self) == secret[$0]
                            }
                    }
                    if found { return position }
                }
            }
        }
        return nil
    }

    /// Whether the first `length` bytes of `secret` are a clipped occurrence's prefix: at least
    /// ``SecretMasker/minimumClippedLength`` characters (counted as Unicode scalars), ending between two.
    private static func isClipped(_ secret: UnsafeBufferPointer<UInt8>, _ length: Int) -> Bool {
        guard length >= SecretMasker.minimumClippedLength, length < secret.count, secret[length] & 0xC0 != 0x80 else {
            return false
        }
        var scalars = 0
        for byte in UnsafeBufferPointer(rebasing: secret[0..<length]) where byte & 0xC0 != 0x80 { scalars += 1 }
        return scalars >= SecretMasker.minimumClippedLength
    }

    private static func isEllipsis(at offset: Int, _ base: UnsafeRawPointer, _ count: Int) -> Bool {
        guard offset + 3 <= count else { return false }
        return base.load(fromByteOffset: offset, as: UInt8.self) == SecretMasker.ellipsis.0
            && base.load(fromByteOffset: offset + 1, as: UInt8.self) == SecretMasker.ellipsis.1
            && base.load(fromByteOffset: offset + 2, as: UInt8.self) == SecretMasker.ellipsis.2
    }
}
