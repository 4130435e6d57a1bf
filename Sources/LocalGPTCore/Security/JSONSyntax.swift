//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// A JSON syntax check (RFC 8259) that allocates nothing: the audit log's append path uses it to
/// tell whether the last line is intact, and the plugin host whether a tool's result is one JSON
/// document, without building one. It accepts exactly what ``JSONParser`` accepts: a leading
/// byte-order mark, strings of valid UTF-8, `\u` surrogates only in pairs, nesting to
/// ``JSONParser/maximumDepth``.
enum JSONSyntax {
    /// Whether `bytes` is exactly one JSON value, optionally surrounded by whitespace.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        skipSpace(bytes, &i)
        guard value(bytes, &i, depth: 0) else { return false }
        skipSpace(bytes, &i)
        return i == bytes.count
    }

    private static let maxDepth = JSONParser.maximumDepth

    private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    private static func value(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, depth: Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"):
            // `depth` containers hold this one: it is the (depth + 1)th, as the parser counts.
            guard depth < maxDepth else { return false }
            i += 1
            skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "}") {
                i += 1
                return true
            }
            while true {
                guard string(b, &i) else { return false }
                skipSpace(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
                i += 1
                skipSpace(b, &i)
                guard value(b, &i, depth: depth + 1) else { return false }
                skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    return true
                }
                guard b[i] == UInt8(ascii: ",") else { return false }
                i += 1
                skipSpace(b, &i)
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return false }
            i += 1
            skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "]") {
                i += 1
                return true
            }
            while true {
                guard value(b, &i, depth: depth + 1) else { return false }
                skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: "]") {
                    i += 1
                    return true
                }
                guard b[i] == UInt8(ascii: ",") else { return false }
                i += 1
                skipSpace(b, &i)
            }
        case UInt8(ascii: "\""):
            return string(b, &i)
        case UInt8(ascii: "t"): return literal(b, &i, "true")
        case UInt8(ascii: "f"): return literal(b, &i, "false")
        case UInt8(ascii: "n"): return literal(b, &i, "null")
        default:
            return number(b, &i)
        }
    }

    private static func literal(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] {
            return false
        }
        i += n
        return true
    }

    private static func string(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return false }
        i += 1
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return true
            }
            if c < 0x20 { return false }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < b.count else { return false }
                switch b[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard let unit = hex4(b, i + 1) else { return false }
                    i += 5
                    if (0xDC00...0xDFFF).contains(unit) { return false }  // a low surrogate alone
                    if (0xD800...0xDBFF).contains(unit) {
                        // A high surrogate must be followed by its low one.
                        guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"),
                            let low = hex4(b, i + 2), (0xDC00...0xDFFF).contains(low)
                        else { return false }
                        i += 6
                    }
                default:
                    return false
                }
                continue
            }
            if c >= 0x80 {
                guard utf8Sequence(b, &i) else { return false }
                continue
            }
            i += 1
        }
        return false
    }

    /// The four hex digits at `at`, or nil.
    private static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 4 <= b.count else { return nil }
        var unit: UInt32 = 0
        for k in 0..<4 {
            let c = b[at + k]
            guard isHexDigit(c) else { return nil }
            unit = unit << 4 | UInt32(isDigit(c) ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10)
        }
        return unit
    }

    /// Steps over one well-formed UTF-8 sequence starting at `i`.
    private static func utf8Sequence(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        guard let length = UTF8Validation.sequenceLength(b, at: i) else { return false }
        i += length
        return true
    }

    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        if i < b.count && b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { return false }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count && isDigit(b[i]) { i += 1 }
        }
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { return false }
            while i < b.count && isDigit(b[i]) { i += 1 }
        }
        if i < b.count && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < b.count && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < b.count, isDigit(b[i]) else { return false }
            while i < b.count && isDigit(b[i]) { i += 1 }
        }
        return true
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
    }
}
