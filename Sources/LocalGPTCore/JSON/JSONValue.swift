//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

public import Foundation

/// A JSON document as a value: what crosses the plugin ABI, what manifests and tool schemas hold.
///
/// Integers and floating-point numbers are kept apart so that `1` and `1.5` round-trip exactly
/// and JSON Schema's `integer` type can be checked. Objects keep no key order; `encoded()`
/// writes keys sorted, so equal values encode to equal bytes.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// Parses a JSON document (RFC 8259; any value at the top level), as UTF-8.
    ///
    /// The parser is strict: see `JSONParser` for what it refuses. Integers that fit `Int64` become
    /// ``int(_:)``, every other number ``double(_:)``.
    ///
    /// - Throws: ``JSONValueError`` naming what is wrong, and where, when `data` is not valid JSON.
    public init(parsing data: Data) throws {
        self = try data.withUnsafeBytes { (raw) throws(JSONValueError) in
            try JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Parses a JSON document held in a string (without copying it when it is stored contiguously,
    /// as native strings are).
    ///
    /// - Throws: ``JSONValueError`` when `text` is not valid JSON.
    public init(parsing text: String) throws {
        var text = text
        self = try text.withUTF8 { (bytes) throws(JSONValueError) in try JSONParser.parse(bytes) }
    }

    /// Parses a JSON document from UTF-8 bytes.
    ///
    /// - Throws: ``JSONValueError`` when `bytes` are not valid JSON.
    public init(parsingUTF8 bytes: UnsafeBufferPointer<UInt8>) throws {
        self = try JSONParser.parse(bytes)
    }

    /// Converts what `JSONSerialization` produces.
    ///
    /// - Throws: ``JSONValueError`` for a value JSON cannot hold.
    public init(foundation any: Any) throws {
        // Collections and strings are tested before NSNumber/NSNull: each failed cast to a
        // Foundation class bridges the value, which made nested documents several times slower.
        switch any {
        case let s as String:
            self = .string(s)
        case let o as [String: Any]:
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(o.count)
            for (k, v) in o { out[k] = try JSONValue(foundation: v) }
            self = .object(out)
        case let a as [Any]:
            self = .array(try a.map { try JSONValue(foundation: $0) })
        case let n as NSNumber:
            self = JSONValue(number: n)
        case is NSNull:
            self = .null
        default:
            throw JSONValueError(message: "unsupported value of type \(type(of: any))")
        }
    }

    private init(number n: NSNumber) {
        // Linux Foundation reports booleans as objCType "c", integers as "q"/"Q" etc., and
        // numbers written with a fraction or exponent as "d".
        switch String(cString: n.objCType) {
        case "c", "B": self = .bool(n.boolValue)
        case "d", "f": self = .double(n.doubleValue)
        case "Q" where n.uint64Value > UInt64(Int64.max): self = .double(n.doubleValue)
        default: self = .int(n.int64Value)
        }
    }

    /// The value as a Foundation object, for `JSONSerialization`.
    public var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return NSNumber(value: b)
        case .int(let i): return NSNumber(value: i)
        case .double(let d): return NSNumber(value: d)
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationObject)
        case .object(let o): return o.mapValues(\.foundationObject)
        }
    }

    /// Compact JSON text with sorted keys; equal values give equal bytes.
    public func encoded(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON text of this value to `out` as UTF-8 (compact, keys sorted).
    public func encode(into out: inout [UInt8]) {
        write(to: &out, pretty: false, indent: 0)
    }

    private func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: b ? "true".utf8 : "false".utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            if d.isFinite {
                if d.rounded() == d, abs(d) < 1e15 {
                    out.append(contentsOf: String(Int64(d)).utf8)
                    out.append(contentsOf: ".0".utf8)
                } else {
                    out.append(contentsOf: d.description.utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { Self.newline(to: &out, indent: indent + 1) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { Self.newline(to: &out, indent: indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { Self.newline(to: &out, indent: indent + 1) }
                Self.writeString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { Self.newline(to: &out, indent: indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(to out: inout [UInt8], indent: Int) {
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<indent { out.append(contentsOf: "  ".utf8) }
    }

    /// Appends `s` as a JSON string literal.
    public static func writeString(_ s: String, to out: inout String) {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count + 2)
        writeString(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal, in UTF-8: `"`, `\` and control characters are
    /// escaped, everything else (including non-ASCII) is copied as it is.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for (i, byte) in bytes.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                runStart = i + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: "u00".utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0x0F)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// The member `key` of an object, or `nil`.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// An integer, also from a double with no fractional part.
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    /// A number as a double.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The JSON type name as JSON Schema spells it ("integer" for integral numbers).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// A JSON document that could not be parsed.
public struct JSONValueError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
