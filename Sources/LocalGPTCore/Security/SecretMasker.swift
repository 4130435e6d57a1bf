//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Hides the configured secret values in text before it is written anywhere: provider errors, the
/// log, session files, memory notes, the audit log.
///
/// Each occurrence of a secret becomes `********`. So does a clipped one: the secret's first
/// characters (at least six) directly followed by `…`, as a plugin or a server leaves a key it cut at
/// the edge of a message (`… sk-proj-Ab…` → `… ********…`). Where occurrences overlap (one key inside
/// or across another), their union is hidden. Values shorter than 8 characters are ignored: hiding
/// `abc` everywhere would destroy the text.
///
/// ```swift
/// let masker = SecretMasker(configuration: configuration)  // once per configuration
/// let line = masker.mask(text)  // `text` itself when it holds no secret
/// ```
///
/// Text without a secret costs one pass over its UTF-8 bytes, 32 positions at a time, for all the
/// secrets together (the first, second and sixth byte of each secret are compared at every
/// position; only where all three agree are the secrets compared), and is returned as it is,
/// without a copy: 15–17 µs for 50 KB and four secrets (docs/PERFORMANCE.md).
public struct SecretMasker: Sendable {
    /// What a secret is replaced with.
    public static let replacement = "********"
    /// Shorter values are not secrets to mask.
    public static let minimumLength = 8
    /// A clipped occurrence (`prefix…`) is hidden when its prefix has at least this many characters.
    public static let minimumClippedLength = 6

    /// The scan's anchor: the first bytes every occurrence, whole or clipped, starts with.
    private static let anchorLength = minimumClippedLength
    /// `…` in UTF-8.
    private static let ellipsis: (UInt8, UInt8, UInt8) = (0xE2, 0x80, 0xA6)

    private typealias Block = SIMD32<UInt8>

    /// The secrets' UTF-8 bytes, distinct.
    private let secrets: [[UInt8]]
    /// Per distinct anchor (the secrets' first ``anchorLength`` bytes): the bytes the scan compares,
    /// and the secrets that start with it.
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

    /// A masker that hides nothing.
    public init() {
        self.init(secrets: [String]())
    }

    /// A masker for these values; those shorter than ``minimumLength`` characters are ignored.
    public init(secrets values: some Sequence<String>) {
        var seen = Set<String>()
        var secrets: [[UInt8]] = []
        for value in values where value.count >= Self.minimumLength && seen.insert(value).inserted {
            secrets.append(Array(value.utf8))
        }
        var anchors: [ArraySlice<UInt8>: Int] = [:]
        var groups: [[Int]] = []
        var filters: [Filter] = []
        for (index, secret) in secrets.enumerated() {
            let anchor = secret[0..<Self.anchorLength]
            if let group = anchors[anchor] {
                groups[group].append(index)
            } else {
                anchors[anchor] = groups.count
                groups.append([index])
                filters.append(Filter(anchor))
            }
        }
        self.secrets = secrets
        self.groups = groups
        self.filters = filters
    }

    /// Whether there is no secret to hide.
    public var isEmpty: Bool { secrets.isEmpty }

    // MARK: Text

    /// `text` with every secret, whole or clipped, replaced by ``replacement``; `text` itself when
    /// it holds none.
    public func mask(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var text = text
        let masked = text.withUTF8 { utf8 -> String? in
            let bytes = UnsafeRawBufferPointer(utf8)
            let found = matches(in: bytes, firstOnly: false)
            guard var current = found.first else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var copied = 0
            func emit(_ range: Range<Int>) {
                out.append(contentsOf: bytes[copied..<range.lowerBound])
                out.append(contentsOf: Self.replacement.utf8)
                copied = range.upperBound
            }
            for range in found.dropFirst() {
                if range.lowerBound < current.upperBound {
                    current = current.lowerBound..<max(current.upperBound, range.upperBound)
                } else {
                    emit(current)
                    current = range
                }
            }
            emit(current)
            out.append(contentsOf: bytes[copied...])
            return String(decoding: out, as: UTF8.self)
        }
        return masked ?? text
    }

    /// Whether `text` holds a secret, whole or clipped.
    public func containsSecret(_ text: String) -> Bool {
        guard !secrets.isEmpty else { return false }
        var text = text
        return text.withUTF8 { !matches(in: UnsafeRawBufferPointer($0), firstOnly: true).isEmpty }
    }

    // MARK: JSON

    /// `value` with every string in it (object keys included) masked; `value` itself when it holds
    /// no secret.
    public func mask(_ value: JSONValue) -> JSONValue {
        guard containsSecret(value) else { return value }
        return masked(value)
    }

    /// Whether a string of `value` (or an object key) holds a secret.
    public func containsSecret(_ value: JSONValue) -> Bool {
        guard !secrets.isEmpty else { return false }
        switch value {
        case .string(let s): return containsSecret(s)
        case .array(let a): return a.contains(where: containsSecret)
        case .object(let o): return o.contains { containsSecret($0.key) || containsSecret($0.value) }
        default: return false
        }
    }

    private func masked(_ value: JSONValue) -> JSONValue {
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

    /// The byte ranges to hide, one per position where a secret starts (the longest there), in
    /// order of position; with `firstOnly`, at most one.
    private func matches(in bytes: UnsafeRawBufferPointer, firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let count = bytes.count
        guard count >= Self.anchorLength, let base = bytes.baseAddress else { return found }
        let gap = Self.anchorLength - 1
        var position = 0
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
        while position + Self.anchorLength <= count {
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
                        || (isClipped(secret, length) && isEllipsis(at: position + length, base, count))
                    {
                        longest = max(longest, length)
                    }
                }
            }
        }
        return longest > 0 ? position..<(position + longest) : nil
    }

    /// Whether the first `length` bytes of `secret` are a clipped occurrence's prefix: at least
    /// ``minimumClippedLength`` characters (counted as Unicode scalars), ending between two.
    private func isClipped(_ secret: UnsafeBufferPointer<UInt8>, _ length: Int) -> Bool {
        guard length >= Self.minimumClippedLength, length < secret.count, secret[length] & 0xC0 != 0x80 else {
            return false
        }
        var scalars = 0
        for byte in UnsafeBufferPointer(rebasing: secret[0..<length]) where byte & 0xC0 != 0x80 { scalars += 1 }
        return scalars >= Self.minimumClippedLength
    }

    private func isEllipsis(at offset: Int, _ base: UnsafeRawPointer, _ count: Int) -> Bool {
        guard offset + 3 <= count else { return false }
        return base.load(fromByteOffset: offset, as: UInt8.self) == Self.ellipsis.0
            && base.load(fromByteOffset: offset + 1, as: UInt8.self) == Self.ellipsis.1
            && base.load(fromByteOffset: offset + 2, as: UInt8.self) == Self.ellipsis.2
    }
}
