//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

extension JSONSchema {
    /// Whether `utf8` is certainly a valid JSON document that satisfies this schema, decided in one
    /// pass over the bytes without building a ``JSONValue`` tree: the fast path for the usual tool
    /// arguments, a flat object of plain strings, integers, booleans and nulls.
    ///
    /// `true` is a proof: the text is valid JSON and `validate(JSONValue(parsing:))` would be
    /// empty. `false` means "not decided here": the caller parses and validates in full, which also
    /// produces the precise error. The scan gives up at anything outside the flat shape (nested
    /// arrays or objects, escapes or non-ASCII text in strings, fractions and exponents, keys the
    /// schema does not declare, a repeated key) and for root schemas with keywords beyond `type`,
    /// `properties` and `required`. Each member's value is checked by the same code as the full
    /// validation (``SchemaNode/check(_:_:)`` in quiet mode), so the two cannot disagree on a value.
    public func acceptsFlatArguments(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let plan = flatPlan else { return false }
        var scanner = FlatScanner(bytes: utf8)
        return scanner.run(plan)
    }

    /// The plan for ``acceptsFlatArguments(_:)``, or nil when the root schema is not a plain
    /// object schema.
    static func makeFlatPlan(_ root: SchemaNode) -> FlatArgumentsPlan? {
        let k = root.keywords
        guard !k.rejectsAll, k.enumValues == nil, k.constValue == nil, !k.hasCombinators, !k.hasNumberKeywords,
            !k.hasStringKeywords, !k.hasArrayKeywords, k.minProperties == nil, k.maxProperties == nil,
            k.sortedProperties.count <= 64
        else { return nil }
        if let types = k.types, !types.contains(.object) { return nil }
        // `additionalProperties` needs no care: an undeclared key ends the scan.
        var required: UInt64 = 0
        for name in k.required {
            // A required property the schema does not declare is left to the full validation.
            guard let i = k.sortedProperties.firstIndex(where: { $0.name == name }) else { return nil }
            required |= 1 << UInt64(i)
        }
        return FlatArgumentsPlan(
            names: k.sortedProperties.map { Array($0.name.utf8) },
            nodes: k.sortedProperties.map(\.node),
            required: required
        )
    }
}

/// The root object schema reduced to what the flat scan needs.
struct FlatArgumentsPlan: Sendable {
    var names: [[UInt8]]
    var nodes: [SchemaNode]
    /// One bit per entry of `names` that is required.
    var required: UInt64
}

/// One pass over a flat JSON object; every method answers false ("not decided") at the first thing
/// outside the flat shape.
private struct FlatScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func run(_ plan: FlatArgumentsPlan) -> Bool {
        skipWhitespace()
        guard take(UInt8(ascii: "{")) else { return false }
        var seen: UInt64 = 0
        var context = ValidationContext(limit: 1)
        context.quiet = true
        skipWhitespace()
        if !take(UInt8(ascii: "}")) {
            while true {
                skipWhitespace()
                guard let key = scanPlainString() else { return false }
                guard let slot = find(key, in: plan.names) else { return false }
                let bit: UInt64 = 1 << UInt64(slot)
                if seen & bit != 0 { return false }
                seen |= bit
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
                guard let value = scanScalar() else { return false }
                let node = plan.nodes[slot]
                if !node.isTrivial {
                    node.check(value, &context)
                    if context.failed { return false }
                }
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return false }
                break
            }
        }
        skipWhitespace()
        return index == bytes.count && plan.required & ~seen == 0
    }

    private func find(_ key: UnsafeBufferPointer<UInt8>, in names: [[UInt8]]) -> Int? {
        for (i, name) in names.enumerated() where name.count == key.count {
            if name.withUnsafeBufferPointer({ $0.elementsEqual(key) }) { return i }
        }
        return nil
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    /// A string of printable ASCII without escapes; its content bytes.
    private mutating func scanPlainString() -> UnsafeBufferPointer<UInt8>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return content
            }
            // Escapes, control characters and non-ASCII bytes are left to the full parser.
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// A plain string, an integer that fits `Int64`, `true`, `false` or `null`.
    private mutating func scanScalar() -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            guard let content = scanPlainString() else { return nil }
            return .string(String(decoding: content, as: UTF8.self))
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return scanInteger()
        default: return nil
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] { return false }
        index += count
        return true
    }

    /// `-?(0|[1-9][0-9]{0,17})` not followed by a fraction or an exponent (18 digits always fit).
    private mutating func scanInteger() -> JSONValue? {
        let negative = take(UInt8(ascii: "-"))
        let start = index
        var magnitude: Int64 = 0
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
            magnitude = magnitude &* 10 &+ Int64(bytes[index] &- UInt8(ascii: "0"))
            index += 1
        }
        let digits = index - start
        guard digits >= 1, digits <= 18, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return .int(negative ? -magnitude : magnitude)
    }
}
