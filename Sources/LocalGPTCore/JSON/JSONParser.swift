//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// A strict RFC 8259 parser from UTF-8 bytes straight to ``JSONValue``.
///
/// It replaces `JSONSerialization` + casts from `Any`: those bridged every nested collection to
/// Foundation and were 62–90 % of an invoke and of a manifest check (docs/PERFORMANCE.md).
///
/// What it accepts and refuses:
/// * any value at the top level, surrounded by optional whitespace (space, tab, LF, CR); a
///   leading UTF-8 byte-order mark is skipped;
/// * no trailing commas, no comments, no single quotes, no leading zeros (`01`), no `+1`, `.5`,
///   `1.` or `NaN`/`Infinity`;
/// * strings must be valid UTF-8 with no unescaped control characters (< U+0020); `\uD83D\uDE00`
///   pairs are joined, a lone surrogate escape is an error (as it was with `JSONSerialization`);
/// * numbers without a fraction or exponent that fit `Int64` are ``JSONValue/int(_:)``; all other
///   numbers are ``JSONValue/double(_:)`` (correctly rounded), and a number too large for a
///   `Double` (`1e400`) is an error;
/// * nesting deeper than ``maximumDepth`` arrays and objects is an error (no stack overflow);
/// * a repeated object key keeps its last value.
struct JSONParser {
    /// The deepest nesting of arrays and objects accepted (the limit `JSONSerialization` has).
    static let maximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses one JSON document from `bytes`.
    ///
    /// - Throws: ``JSONValueError`` with a message that starts "not valid JSON: " and names the
    ///   line and column.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONValueError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { parser.index = 3 }
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw parser.error("unexpected data after the JSON value")
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue() throws(JSONValueError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw unexpectedCharacter(expected: "a value")
        }
    }

    private mutating func parseObject() throws(JSONValueError) -> JSONValue {
        try enterContainer()
        index += 1  // {
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object([:])
        }
        // Room for 6 members in one allocation: growing from empty would reallocate and rehash at
        // 1, 3 and 6 members, and most objects (tool arguments, schemas) are that small.
        var object = [String: JSONValue](minimumCapacity: 6)
        while true {
            guard index < bytes.count else { throw error("unexpected end of input, expected a key") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                throw unexpectedCharacter(expected: "a key in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ':'") }
            guard bytes[index] == UInt8(ascii: ":") else { throw unexpectedCharacter(expected: "':'") }
            index += 1
            skipWhitespace()
            object[key] = try parseValue()  // a repeated key keeps its last value
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return .object(object)
            default:
                throw unexpectedCharacter(expected: "',' or '}'")
            }
        }
    }

    private mutating func parseArray() throws(JSONValueError) -> JSONValue {
        try enterContainer()
        index += 1  // [
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array([])
        }
        var array: [JSONValue] = []
        while true {
            array.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or ']'") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return .array(array)
            default:
                throw unexpectedCharacter(expected: "',' or ']'")
            }
        }
    }

    private mutating func enterContainer() throws(JSONValueError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw error("nested more than \(Self.maximumDepth) arrays and objects deep")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONValueError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard bytes.count - index >= count else { throw unexpectedCharacter(expected: "a value") }
        for i in 0..<count where bytes[index + i] != start[i] {
            throw unexpectedCharacter(expected: "a value")
        }
        index += count
    }

    // MARK: - Strings

    /// Parses a string literal; `index` is at its opening quote.
    private mutating func parseString() throws(JSONValueError) -> String {
        let start = index
        index += 1
        let contentStart = index
        var allBytes: UInt8 = 0
        // Fast path: no escapes, the bytes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[contentStart..<index])
                index += 1
                return try makeString(content, isASCII: allBytes < 0x80, start: start)
            }
            allBytes |= byte
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("unescaped control character in a string") }
            index += 1
        }
        guard index < bytes.count else {
            index = start
            throw error("unterminated string")
        }
        // Slow path: at the first backslash; copy runs and decode escapes.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(index - contentStart + 16)
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return try buffer.withUnsafeBufferPointer { (b) throws(JSONValueError) in
                    try makeString(b, isASCII: false, start: start)
                }
            case UInt8(ascii: "\\"):
                try parseEscape(into: &buffer)
            case 0..<0x20:
                throw error("unescaped control character in a string")
            default:
                buffer.append(byte)
                index += 1
            }
        }
        index = start
        throw error("unterminated string")
    }

    private func makeString(
        _ content: UnsafeBufferPointer<UInt8>,
        isASCII: Bool,
        start: Int
    ) throws(JSONValueError) -> String {
        // ASCII needs no validation, and String(decoding:) is about 4 times faster than
        // String(validating:) (which refuses what decoding would repair).
        if isASCII { return String(decoding: content, as: UTF8.self) }
        guard let string = String(validating: content, as: UTF8.self) else {
            throw error("a string is not valid UTF-8", at: start)
        }
        return string
    }

    /// Decodes one escape sequence; `index` is at its backslash.
    private mutating func parseEscape(into buffer: inout [UInt8]) throws(JSONValueError) {
        index += 1
        guard index < bytes.count else { throw error("unterminated string") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): buffer.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else {
                    index -= 6
                    throw error("a high surrogate \\u escape is not followed by a low surrogate")
                }
                index += 2
                let low = UInt32(try parseHex4())
                guard (0xDC00...0xDFFF).contains(low) else {
                    index -= 12
                    throw error("a high surrogate \\u escape is not followed by a low surrogate")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                index -= 6
                throw error("a low surrogate \\u escape without a high surrogate before it")
            }
            appendUTF8(scalar, to: &buffer)
        default:
            index -= 2
            throw error("invalid escape sequence in a string")
        }
    }

    private mutating func parseHex4() throws(JSONValueError) -> UInt16 {
        guard bytes.count - index >= 4 else { throw error("a \\u escape needs 4 hex digits") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: throw error("a \\u escape needs 4 hex digits")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | scalar >> 6))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | scalar >> 12))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | scalar >> 18))
            buffer.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: - Numbers

    /// Parses `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func parseNumber() throws(JSONValueError) -> JSONValue {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw index < bytes.count
                ? unexpectedCharacter(expected: "a digit") : error("unexpected end of input in a number")
        }
        // Accumulate the integer part as a negative number so that Int64.min fits.
        var magnitude: Int64 = 0
        var overflow = false
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                index -= 1
                throw error("a number has a leading zero")
            }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                let digit = Int64(bytes[index] &- UInt8(ascii: "0"))
                if !overflow {
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(digit)
                    if o1 || o2 { overflow = true } else { magnitude = next }
                }
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("a number needs digits after its decimal point")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("a number needs digits in its exponent")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if isInteger && !overflow {
            if negative { return .int(magnitude) }
            if magnitude != .min { return .int(-magnitude) }
        }
        // Swift's Double(String) is correctly rounded; numbers of 15 bytes or fewer are small
        // strings and allocate nothing.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            index = start
            throw error("the number \(text) is too large for a double")
        }
        return .double(double)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    // MARK: - Whitespace and errors

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    private func unexpectedCharacter(expected: String) -> JSONValueError {
        let byte = bytes[index]
        let shown: String
        if byte >= 0x20 && byte < 0x7F {
            shown = "'\(Character(Unicode.Scalar(byte)))'"
        } else {
            shown = "byte 0x" + String(byte, radix: 16, uppercase: true)
        }
        return error("unexpected \(shown), expected \(expected)")
    }

    /// An error at `position` (by default `index`), with its line and column (both from 1; the
    /// column counts bytes).
    private func error(_ message: String, at position: Int? = nil) -> JSONValueError {
        var line = 1
        var lineStart = 0
        let end = min(position ?? index, bytes.count)
        for i in 0..<end where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        return JSONValueError(message: "not valid JSON: \(message) at line \(line), column \(end - lineStart + 1)")
    }
}
