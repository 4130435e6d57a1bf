//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// A JSON Schema compiled once into a validator: what the host checks tool-call arguments against
/// before a plugin ever sees them.
///
/// Supports the subset LLM tool calling uses: `type`, `properties`, `required`, `additionalProperties`,
/// `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers, draft-6+ form),
/// `multipleOf`, `minLength`, `maxLength`, `pattern`, `items`, `minItems`, `maxItems`, `uniqueItems`,
/// `minProperties`, `maxProperties`, `anyOf`, `oneOf`, `allOf`, `not`, and the boolean schemas
/// `true` and `false`. Annotations (`description`, `title`, `default`, ...) are ignored; `$ref` is
/// rejected; any other keyword is ignored and reported in ``warnings``.
///
/// Numbers compare by value: `1` and `1.0` are equal for `enum`, `const` and `uniqueItems`, an integer
/// satisfies `"number"`, and a double with no fractional part satisfies `"integer"`. String lengths
/// count Unicode code points. `pattern` is an unanchored search with `NSRegularExpression`.
///
/// The value is immutable and `Sendable`: validate from any number of threads at once.
public struct JSONSchema: Sendable {
    /// How many violations ``validate(_:limit:)`` reports at most, unless told otherwise.
    public static let defaultViolationLimit = 20

    /// Keywords the compiler did not recognise and ignored, each with its location
    /// (`parameters.properties.x: unknown keyword "nullable" ignored`), for the loader to log.
    public var warnings: [String]

    let root: SchemaNode
    /// For ``acceptsFlatArguments(_:)``; nil when the root is not a plain object schema.
    let flatPlan: FlatArgumentsPlan?

    /// Compiles `schema`, checking every keyword once.
    ///
    /// - Parameters:
    ///   - schema: The schema: an object or a boolean.
    ///   - location: How errors and warnings name the schema's root, e.g. `parameters` gives
    ///     `parameters.properties.days.minimum: expected a number, got "seven"`.
    /// - Throws: ``JSONSchemaError`` naming the location and the problem when the schema is malformed:
    ///   a keyword with a value of the wrong kind, an unknown `type` name, `required` that is not an array
    ///   of strings, a `pattern` that is not a valid regular expression, or a `$ref`.
    public init(_ schema: JSONValue, location: String = "schema") throws(JSONSchemaError) {
        var compiler = SchemaCompiler()
        root = try compiler.compile(schema, at: location)
        warnings = compiler.warnings
        flatPlan = Self.makeFlatPlan(root)
    }

    /// Validates `value`, returning every violation found, in a stable order, at most `limit` of them.
    ///
    /// An empty result means `value` is valid.
    public func validate(_ value: JSONValue, limit: Int = JSONSchema.defaultViolationLimit) -> [JSONSchemaViolation] {
        var context = ValidationContext(limit: max(1, limit))
        root.check(value, &context)
        return context.violations
    }

    /// The first violation in `value`, or `nil` when it is valid. Stops at the first one found.
    public func firstViolation(_ value: JSONValue) -> JSONSchemaViolation? {
        validate(value, limit: 1).first
    }

    /// Whether `value` satisfies the schema.
    public func isValid(_ value: JSONValue) -> Bool {
        firstViolation(value) == nil
    }
}

/// A way a value fails a schema: where, and what is wrong.
public struct JSONSchemaViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where in the value, from `$` for the root: `$.items[2].name`, `$["first name"]`.
    public var path: String
    /// What is wrong, e.g. `9 is greater than the maximum 7`. Quoted values are truncated.
    public var message: String
    /// The schema keyword that failed (`maximum`, `required`, `type`, ...; `false` for a false schema).
    public var keyword: String

    public init(path: String, message: String, keyword: String) {
        self.path = path
        self.message = message
        self.keyword = keyword
    }

    /// `path: message`, e.g. `$.days: 9 is greater than the maximum 7`.
    public var description: String { "\(path): \(message)" }
}

/// A malformed schema: where in it, and what is wrong.
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    /// The location in the schema, e.g. `parameters.properties.days.minimum`.
    public var path: String
    /// What is wrong, e.g. `expected a number, got "seven"`.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

// MARK: - Compiled form

/// The JSON types `type` names.
struct JSONTypeSet: OptionSet, Sendable {
    let rawValue: UInt8

    static let null = JSONTypeSet(rawValue: 1 << 0)
    static let boolean = JSONTypeSet(rawValue: 1 << 1)
    static let integer = JSONTypeSet(rawValue: 1 << 2)
    static let number = JSONTypeSet(rawValue: 1 << 3)
    static let string = JSONTypeSet(rawValue: 1 << 4)
    static let array = JSONTypeSet(rawValue: 1 << 5)
    static let object = JSONTypeSet(rawValue: 1 << 6)

    static let names = ["null", "boolean", "integer", "number", "string", "array", "object"]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init?(name: String) {
        guard let index = Self.names.firstIndex(of: name) else { return nil }
        self.init(rawValue: 1 << UInt8(index))
    }

    /// Whether `value` has one of these types. An integer is a number; an integral double is an integer.
    func admits(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return contains(.null)
        case .bool: return contains(.boolean)
        case .int: return !isDisjoint(with: [.integer, .number])
        case .double(let d): return contains(.number) || (contains(.integer) && d.isFinite && d.rounded() == d)
        case .string: return contains(.string)
        case .array: return contains(.array)
        case .object: return contains(.object)
        }
    }
}

/// A number from a schema keyword, kept exact.
enum SchemaNumber: Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)

    init?(_ value: JSONValue) {
        switch value {
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var doubleValue: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }

    var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return JSONValue.double(d).encoded()
        }
    }
}

/// What `additionalProperties` says.
enum AdditionalProperties: Sendable {
    /// Absent or `true`.
    case allowed
    /// `false`.
    case forbidden
    case schema(SchemaNode)
}

/// A compiled regular expression.
///
/// `@unchecked Sendable` is safe: the wrapped `NSRegularExpression` is never mutated after init, and
/// NSRegularExpression is documented immutable and thread-safe for matching (on Linux, CoreFoundation
/// checks the ICU matcher out atomically and clones it when another thread holds it).
final class CompiledPattern: @unchecked Sendable {
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        self.regex = try NSRegularExpression(pattern: source, options: [])
    }

    /// Unanchored search, as JSON Schema specifies.
    func matches(_ string: String) -> Bool {
        let range = NSRange(location: 0, length: string.utf16.count)
        return regex.firstMatch(in: string, options: [], range: range) != nil
    }
}

/// The keywords of one schema, compiled.
struct SchemaKeywords: Sendable {
    /// The boolean schema `false`.
    var rejectsAll = false
    var types: JSONTypeSet?
    /// The `type` names in schema order, for messages.
    var typeNames: [String] = []
    var enumValues: [JSONValue]?
    /// `const`, boxed in an array of one so that `const: null` is representable.
    var constValue: [JSONValue]?

    var minimum: SchemaNumber?
    var maximum: SchemaNumber?
    var exclusiveMinimum: SchemaNumber?
    var exclusiveMaximum: SchemaNumber?
    var multipleOf: SchemaNumber?

    var minLength: Int?
    var maxLength: Int?
    var pattern: CompiledPattern?

    var items: SchemaNode?
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false

    var properties: [String: SchemaNode] = [:]
    /// `properties` sorted by name, so violations come out in a stable order.
    var sortedProperties: [(name: String, node: SchemaNode)] = []
    var required: [String] = []
    var additionalProperties = AdditionalProperties.allowed
    var minProperties: Int?
    var maxProperties: Int?

    var allOf: [SchemaNode] = []
    var anyOf: [SchemaNode] = []
    var oneOf: [SchemaNode] = []
    var not: SchemaNode?

    var hasNumberKeywords: Bool {
        minimum != nil || maximum != nil || exclusiveMinimum != nil || exclusiveMaximum != nil || multipleOf != nil
    }
    var hasStringKeywords: Bool { minLength != nil || maxLength != nil || pattern != nil }
    var hasArrayKeywords: Bool {
        (items.map { !$0.isTrivial } ?? false) || minItems != nil || maxItems != nil || uniqueItems
    }
    var hasObjectKeywords: Bool {
        if case .allowed = additionalProperties {
            return !properties.isEmpty || !required.isEmpty || minProperties != nil || maxProperties != nil
        }
        return true
    }
    var hasCombinators: Bool { !allOf.isEmpty || !anyOf.isEmpty || !oneOf.isEmpty || not != nil }
}

/// One compiled schema. A class so that subschemas are shared references; immutable, hence `Sendable`.
final class SchemaNode: Sendable {
    let keywords: SchemaKeywords
    /// Accepts every value (`true`, `{}`, or only annotations): validation skips it.
    let isTrivial: Bool
    let checksNumbers: Bool
    let checksStrings: Bool
    let checksArrays: Bool
    let checksObjects: Bool
    let checksCombinators: Bool

    init(_ keywords: SchemaKeywords) {
        self.keywords = keywords
        checksNumbers = keywords.hasNumberKeywords
        checksStrings = keywords.hasStringKeywords
        checksArrays = keywords.hasArrayKeywords
        checksObjects = keywords.hasObjectKeywords
        checksCombinators = keywords.hasCombinators
        isTrivial =
            !keywords.rejectsAll && keywords.types == nil && keywords.enumValues == nil && keywords.constValue == nil
            && !checksNumbers && !checksStrings && !checksArrays && !checksObjects && !checksCombinators
    }
}

// MARK: - Validation

/// One step of a path into the value; rendered to text only when a violation is reported.
enum PathSegment {
    case key(String)
    case index(Int)
}

/// The state of one validation: the path to the value being checked, and what was found.
///
/// In quiet mode (used to ask "does this subschema match?" for `anyOf`, `oneOf` and `not`) a violation
/// only sets ``failed`` and stops the walk: no message or path text is built.
struct ValidationContext {
    var path: [PathSegment] = []
    var violations: [JSONSchemaViolation] = []
    var limit: Int
    var quiet = false
    var failed = false

    init(limit: Int) { self.limit = limit }

    /// Whether to stop looking: the limit is reached, or (quiet) anything failed.
    var isFull: Bool { quiet ? failed : violations.count >= limit }

    /// Records a violation at the current path; `message` is only built when it is kept.
    mutating func report(_ keyword: String, _ message: @autoclosure () -> String) {
        if quiet {
            failed = true
            return
        }
        guard violations.count < limit else { return }
        violations.append(JSONSchemaViolation(path: SchemaText.path(path), message: message(), keyword: keyword))
    }

    /// Whether `value` satisfies `node`, without building any message.
    mutating func matches(_ node: SchemaNode, _ value: JSONValue) -> Bool {
        let (savedQuiet, savedFailed) = (quiet, failed)
        quiet = true
        failed = false
        node.check(value, &self)
        let matched = !failed
        (quiet, failed) = (savedQuiet, savedFailed)
        return matched
    }

    /// The first violation of `node` by `value`, collected apart from the others; `nil` when it matches.
    mutating func firstViolation(_ node: SchemaNode, _ value: JSONValue) -> JSONSchemaViolation? {
        let (savedViolations, savedLimit, savedQuiet) = (violations, limit, quiet)
        violations = []
        limit = 1
        quiet = false
        node.check(value, &self)
        let found = violations.first
        (violations, limit, quiet) = (savedViolations, savedLimit, savedQuiet)
        return found
    }
}

extension SchemaNode {
    func check(_ value: JSONValue, _ context: inout ValidationContext) {
        if isTrivial { return }
        if keywords.rejectsAll {
            context.report("false", "no value is allowed here (the schema is false)")
            return
        }
        if let types = keywords.types, !types.admits(value) {
            context.report(
                "type",
                "expected \(SchemaText.list(self.keywords.typeNames, conjunction: "or")), got \(value.typeName)"
            )
            return
        }
        if let constant = keywords.constValue?.first, !SchemaEquality.equal(constant, value) {
            context.report(
                "const",
                "\(SchemaText.value(value)) is not equal to the constant \(SchemaText.value(constant))"
            )
            if context.isFull { return }
        }
        if let values = keywords.enumValues, !values.contains(where: { SchemaEquality.equal($0, value) }) {
            context.report("enum", "\(SchemaText.value(value)) is not one of \(SchemaText.enumList(values))")
            if context.isFull { return }
        }
        switch value {
        case .int, .double:
            if checksNumbers { checkNumber(value, &context) }
        case .string(let s):
            if checksStrings { checkString(s, value, &context) }
        case .array(let a):
            if checksArrays { checkArray(a, &context) }
        case .object(let o):
            if checksObjects { checkObject(o, &context) }
        case .null, .bool:
            break
        }
        if checksCombinators && !context.isFull { checkCombinators(value, &context) }
    }

    private func checkNumber(_ value: JSONValue, _ context: inout ValidationContext) {
        if let limit = keywords.minimum, SchemaNumeric.compare(value, limit) < 0 {
            context.report("minimum", "\(SchemaText.value(value)) is less than the minimum \(limit)")
        }
        if let limit = keywords.maximum, SchemaNumeric.compare(value, limit) > 0 {
            context.report("maximum", "\(SchemaText.value(value)) is greater than the maximum \(limit)")
        }
        if let limit = keywords.exclusiveMinimum, SchemaNumeric.compare(value, limit) <= 0 {
            context.report(
                "exclusiveMinimum",
                "\(SchemaText.value(value)) is not greater than the exclusive minimum \(limit)"
            )
        }
        if let limit = keywords.exclusiveMaximum, SchemaNumeric.compare(value, limit) >= 0 {
            context.report(
                "exclusiveMaximum",
                "\(SchemaText.value(value)) is not less than the exclusive maximum \(limit)"
            )
        }
        if let divisor = keywords.multipleOf, !SchemaNumeric.isMultiple(value, of: divisor) {
            context.report("multipleOf", "\(SchemaText.value(value)) is not a multiple of \(divisor)")
        }
    }

    private func checkString(_ s: String, _ value: JSONValue, _ context: inout ValidationContext) {
        if keywords.minLength != nil || keywords.maxLength != nil {
            // A code point takes 1 to 4 UTF-8 bytes: the byte count (O(1) for native strings) usually
            // settles the question without counting code points.
            let bytes = s.utf8.count
            if let max = keywords.maxLength, bytes > max {
                let length = s.unicodeScalars.count
                if length > max {
                    context.report(
                        "maxLength",
                        "\(SchemaText.value(value)) (length \(length)) is longer than the maximum length \(max)"
                    )
                }
            }
            if let min = keywords.minLength, (bytes + 3) / 4 < min {
                let length = s.unicodeScalars.count
                if length < min {
                    context.report(
                        "minLength",
                        "\(SchemaText.value(value)) (length \(length)) is shorter than the minimum length \(min)"
                    )
                }
            }
        }
        if let pattern = keywords.pattern, !pattern.matches(s) {
            context.report(
                "pattern",
                "\(SchemaText.value(value)) does not match the pattern \(SchemaText.value(.string(pattern.source)))"
            )
        }
    }

    private func checkArray(_ a: [JSONValue], _ context: inout ValidationContext) {
        if let min = keywords.minItems, a.count < min {
            context.report("minItems", "expected at least \(SchemaText.count(min, "item")), got \(a.count)")
        }
        if let max = keywords.maxItems, a.count > max {
            context.report("maxItems", "expected at most \(SchemaText.count(max, "item")), got \(a.count)")
        }
        if keywords.uniqueItems, let (first, second) = SchemaEquality.firstDuplicate(in: a) {
            context.report("uniqueItems", "items \(first) and \(second) are equal (uniqueItems is true)")
        }
        if let items = keywords.items, !items.isTrivial {
            for (index, element) in a.enumerated() {
                if context.isFull { return }
                context.path.append(.index(index))
                items.check(element, &context)
                context.path.removeLast()
            }
        }
    }

    private func checkObject(_ o: [String: JSONValue], _ context: inout ValidationContext) {
        for name in keywords.required where o[name] == nil {
            context.report("required", "missing required property \(SchemaText.value(.string(name)))")
        }
        if let min = keywords.minProperties, o.count < min {
            context.report("minProperties", "expected at least \(SchemaText.count(min, "property")), got \(o.count)")
        }
        if let max = keywords.maxProperties, o.count > max {
            context.report("maxProperties", "expected at most \(SchemaText.count(max, "property")), got \(o.count)")
        }
        var declared = 0
        for (name, node) in keywords.sortedProperties {
            guard let member = o[name] else { continue }
            declared += 1
            if node.isTrivial || context.isFull { continue }
            context.path.append(.key(name))
            node.check(member, &context)
            context.path.removeLast()
        }
        // Every member is a declared property, so none is additional: the common case ends here.
        if declared == o.count || context.isFull { return }
        switch keywords.additionalProperties {
        case .allowed:
            return
        case .forbidden:
            for name in additionalNames(o) {
                context.report(
                    "additionalProperties",
                    "unexpected property \(SchemaText.value(.string(name))) (additionalProperties is false)"
                )
                if context.isFull { return }
            }
        case .schema(let node):
            if node.isTrivial { return }
            for name in additionalNames(o) {
                guard let member = o[name] else { continue }
                if context.isFull { return }
                context.path.append(.key(name))
                node.check(member, &context)
                context.path.removeLast()
            }
        }
    }

    /// The members of `o` not in `properties`, sorted so that violations come out in a stable order.
    private func additionalNames(_ o: [String: JSONValue]) -> [String] {
        o.keys.filter { keywords.properties[$0] == nil }.sorted()
    }

    private func checkCombinators(_ value: JSONValue, _ context: inout ValidationContext) {
        for node in keywords.allOf {
            if context.isFull { return }
            node.check(value, &context)
        }
        if !keywords.anyOf.isEmpty, !keywords.anyOf.contains(where: { context.matches($0, value) }) {
            if context.quiet {
                context.report("anyOf", "")
            } else {
                let failures = keywords.anyOf.compactMap { context.firstViolation($0, value) }
                let details = SchemaText.branchDetails(failures, at: context.path)
                context.report("anyOf", "matches none of the schemas in anyOf" + details)
            }
        }
        if !keywords.oneOf.isEmpty {
            var matched: [Int] = []
            for (index, node) in keywords.oneOf.enumerated() where context.matches(node, value) {
                matched.append(index)
                if matched.count == 2 { break }
            }
            if matched.isEmpty {
                if context.quiet {
                    context.report("oneOf", "")
                } else {
                    let failures = keywords.oneOf.compactMap { context.firstViolation($0, value) }
                    let details = SchemaText.branchDetails(failures, at: context.path)
                    context.report("oneOf", "matches none of the schemas in oneOf" + details)
                }
            } else if matched.count > 1 {
                context.report(
                    "oneOf",
                    "matches more than one schema in oneOf (oneOf[\(matched[0])] and oneOf[\(matched[1])])"
                )
            }
        }
        if let node = keywords.not, context.matches(node, value) {
            context.report("not", "must not match the schema in not")
        }
    }
}

// MARK: - Numbers and equality

enum SchemaNumeric {
    /// Compares a number value with a schema number exactly: -1, 0 or 1 (0 also for the incomparable NaN).
    static func compare(_ value: JSONValue, _ limit: SchemaNumber) -> Int {
        switch (value, limit) {
        case (.int(let a), .int(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        case (.int(let a), .double(let b)): return compare(a, b)
        case (.double(let a), .int(let b)): return -compare(b, a)
        case (.double(let a), .double(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        default: return 0
        }
    }

    /// Compares an integer with a double without rounding the integer through `Double`.
    static func compare(_ i: Int64, _ d: Double) -> Int {
        if d.isNaN { return 0 }
        if d >= 9_223_372_036_854_775_808.0 { return -1 }  // 2^63: above every Int64
        if d < -9_223_372_036_854_775_808.0 { return 1 }
        let floor = d.rounded(.down)
        let whole = Int64(floor)
        if i < whole { return -1 }
        if i > whole { return 1 }
        return floor < d ? -1 : 0
    }

    static func isMultiple(_ value: JSONValue, of divisor: SchemaNumber) -> Bool {
        // Integers divide exactly; a divisor written 2.0 counts as the integer 2.
        var integralDivisor: Int64?
        switch divisor {
        case .int(let m): integralDivisor = m
        case .double(let m) where m.rounded() == m && abs(m) < 9.2e18: integralDivisor = Int64(m)
        default: integralDivisor = nil
        }
        if case .int(let v) = value, let m = integralDivisor, m > 0 { return v % m == 0 }
        guard let v = value.doubleValue else { return true }
        let quotient = v / divisor.doubleValue
        guard quotient.isFinite else { return false }
        // 0.3 / 0.1 is 2.9999999999999996 in binary floating point: allow a few units in the last place.
        let nearest = quotient.rounded()
        return abs(quotient - nearest) <= 4 * quotient.ulp
    }
}

enum SchemaEquality {
    /// JSON Schema equality: numbers by value (`1 == 1.0`), strings code point by code point, arrays in
    /// order, objects by members regardless of order.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return SchemaNumeric.compare(x, y) == 0
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return sameCodePoints(x, y)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for (key, member) in x {
                guard let other = y[key], equal(member, other) else { return false }
            }
            return true
        default: return false
        }
    }

    /// Byte equality of the UTF-8 forms. Not `==`, which treats canonically equivalent strings
    /// (precomposed and decomposed "é") as equal.
    static func sameCodePoints(_ x: String, _ y: String) -> Bool {
        let (a, b) = (x.utf8, y.utf8)
        guard a.count == b.count else { return false }
        let compared = a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in pa.elementsEqual(pb) }
        }
        return (compared ?? nil) ?? a.elementsEqual(b)
    }

    /// The indexes of the first pair of equal items (the lowest second index, then its first equal).
    static func firstDuplicate(in items: [JSONValue]) -> (Int, Int)? {
        if items.count < 2 { return nil }
        if items.count <= 16 {
            for j in 1..<items.count {
                for i in 0..<j where equal(items[i], items[j]) { return (i, j) }
            }
            return nil
        }
        // Larger arrays: hash a canonical encoding in which equal values give equal bytes.
        var seen: [[UInt8]: Int] = [:]
        seen.reserveCapacity(items.count)
        for (j, item) in items.enumerated() {
            var bytes: [UInt8] = []
            canonicalBytes(item, into: &bytes)
            if let i = seen[bytes] { return (i, j) }
            seen[bytes] = j
        }
        return nil
    }

    /// Bytes (not a `String`, whose equality would merge canonically equivalent text) that are equal
    /// exactly when the values are equal by ``equal(_:_:)``.
    private static func canonicalBytes(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(0x6E)
        case .bool(let b): out.append(b ? 0x74 : 0x66)
        case .int(let i):
            out.append(0x69)
            out.append(contentsOf: String(i).utf8)
            out.append(0x3B)
        case .double(let d):
            if d.rounded() == d, d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 {
                canonicalBytes(.int(Int64(d)), into: &out)
            } else {
                out.append(0x64)
                out.append(contentsOf: "\(d)".utf8)
                out.append(0x3B)
            }
        case .string(let s):
            out.append(0x73)
            out.append(contentsOf: String(s.utf8.count).utf8)
            out.append(0x3A)
            out.append(contentsOf: s.utf8)
        case .array(let a):
            out.append(0x5B)
            for element in a { canonicalBytes(element, into: &out) }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            for key in o.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                canonicalBytes(.string(key), into: &out)
                if let member = o[key] { canonicalBytes(member, into: &out) }
            }
            out.append(0x7D)
        }
    }
}

// MARK: - Text

enum SchemaText {
    /// Longest rendering of a value in a message, in characters.
    static let valueLimit = 60

    /// `$`, `$.items[2].name`, `$["first name"]`.
    static func path(_ segments: [PathSegment]) -> String {
        var out = "$"
        for segment in segments {
            switch segment {
            case .key(let key): appendKey(key, to: &out)
            case .index(let index): out += "[\(index)]"
            }
        }
        return out
    }

    /// `.name` for an identifier, `["first name"]` otherwise.
    static func appendKey(_ key: String, to out: inout String) {
        if isIdentifier(key) {
            out += "."
            out += key
        } else {
            out += "["
            out += value(.string(key))
            out += "]"
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == 0x5F || (first | 0x20 >= 0x61 && first | 0x20 <= 0x7A) else {
            return false
        }
        return s.utf8.allSatisfy { c in
            c == 0x5F || (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
        }
    }

    /// A value as JSON text for a message, truncated to about ``valueLimit`` characters with `…`.
    static func value(_ v: JSONValue) -> String {
        if case .string(let s) = v { return string(s, limit: valueLimit) }
        var out = ""
        write(v, into: &out, budget: valueLimit * 4)
        if out.count > valueLimit { return String(out.prefix(valueLimit - 1)) + "…" }
        return out
    }

    /// A quoted string, its content cut to fit `limit` characters with `…` inside the quotes.
    private static func string(_ s: String, limit: Int) -> String {
        var out = ""
        if s.utf8.count <= limit - 2 || s.prefix(limit - 1).endIndex == s.endIndex {
            JSONValue.writeString(s, to: &out)
            if out.count <= limit { return out }
        }
        // Cut (whole characters), then cut more if escapes made the literal too long.
        var keep = limit - 3
        while true {
            out = ""
            JSONValue.writeString(String(s.prefix(keep)), to: &out)
            if out.count <= limit - 1 || keep == 0 { break }
            keep = min(keep - 1, keep * (limit - 1) / out.count)
        }
        out.removeLast()
        return out + "…\""
    }

    /// Writes compact JSON, stopping early once `out` exceeds `budget` bytes.
    private static func write(_ v: JSONValue, into out: inout String, budget: Int) {
        if out.utf8.count > budget { return }
        switch v {
        case .string(let s):
            out += string(s, limit: valueLimit)
        case .array(let a):
            out += "["
            for (index, element) in a.enumerated() {
                if out.utf8.count > budget { return }
                if index > 0 { out += "," }
                write(element, into: &out, budget: budget)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (index, key) in o.keys.sorted().enumerated() {
                if out.utf8.count > budget { return }
                if index > 0 { out += "," }
                out += string(key, limit: valueLimit)
                out += ":"
                if let member = o[key] { write(member, into: &out, budget: budget) }
            }
            out += "}"
        case .null, .bool, .int, .double:
            out += v.encoded()
        }
    }

    /// `a`, `a or b`, `a, b or c`.
    static func list(_ items: [String], conjunction: String) -> String {
        switch items.count {
        case 0: return ""
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " \(conjunction) " + items[items.count - 1]
        }
    }

    /// The values of an enum for a message: at most 10, then how many more.
    static func enumList(_ values: [JSONValue]) -> String {
        let shown = values.prefix(10).map { value($0) }.joined(separator: ", ")
        return values.count > 10 ? shown + ", … (\(values.count - 10) more)" : shown
    }

    /// `1 item`, `3 items`, `1 property`, `2 properties`.
    static func count(_ n: Int, _ noun: String) -> String {
        if n == 1 { return "1 \(noun)" }
        return noun.hasSuffix("y") ? "\(n) \(noun.dropLast())ies" : "\(n) \(noun)s"
    }

    /// ` ([0] expected string, got integer; [1] $.a: ...)`: each branch's first violation, with its path
    /// when it is deeper than `path`.
    static func branchDetails(_ failures: [JSONSchemaViolation], at path: [PathSegment]) -> String {
        if failures.isEmpty { return "" }
        let here = self.path(path)
        let shown = failures.prefix(5).enumerated().map { index, failure in
            failure.path == here ? "[\(index)] \(failure.message)" : "[\(index)] \(failure.description)"
        }
        let more = failures.count > 5 ? "; …" : ""
        return " (" + shown.joined(separator: "; ") + more + ")"
    }
}

// MARK: - Compilation

struct SchemaCompiler {
    var warnings: [String] = []

    /// Keywords that only annotate: ignored without a warning.
    static let annotations: Set<String> = [
        "description", "title", "default", "examples", "format", "$schema", "$id", "$comment", "deprecated",
        "readOnly", "writeOnly", "$defs", "definitions",
    ]

    /// Standard keywords this validator does not implement: ignored with a warning saying so.
    static let unsupported: Set<String> = [
        "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies", "if", "then",
        "else", "prefixItems", "additionalItems", "contains", "minContains", "maxContains", "unevaluatedItems",
        "unevaluatedProperties", "contentEncoding", "contentMediaType", "contentSchema", "$anchor", "$dynamicAnchor",
        "$recursiveAnchor", "$vocabulary",
    ]

    /// Reference keywords: rejected, since a reference the validator skipped would validate nothing.
    static let references: Set<String> = ["$ref", "$dynamicRef", "$recursiveRef"]

    /// Every keyword the compiler handles.
    static let handled: Set<String> = [
        "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "items", "minItems", "maxItems", "uniqueItems", "properties",
        "required", "additionalProperties", "minProperties", "maxProperties", "allOf", "anyOf", "oneOf", "not",
    ]

    mutating func compile(_ schema: JSONValue, at location: String) throws(JSONSchemaError) -> SchemaNode {
        let members: [String: JSONValue]
        switch schema {
        case .bool(let accepts):
            var k = SchemaKeywords()
            k.rejectsAll = !accepts
            return SchemaNode(k)
        case .object(let o):
            members = o
        default:
            throw JSONSchemaError(
                path: location,
                message: "expected a schema (an object or a boolean), got \(SchemaText.value(schema))"
            )
        }

        // Keywords in a stable order, so the first error reported does not depend on hashing.
        let names = members.keys.sorted()
        for name in names where Self.references.contains(name) {
            throw JSONSchemaError(
                path: Self.at(location, name),
                message: "\(name) is not supported; inline the referenced schema"
            )
        }

        var k = SchemaKeywords()
        for name in names {
            guard let value = members[name] else { continue }
            let here = Self.at(location, name)
            switch name {
            case "type":
                (k.types, k.typeNames) = try compileType(value, at: here)
            case "enum":
                guard case .array(let values) = value else { throw Self.expected("an array", value, here) }
                if values.isEmpty { warnings.append("\(here): an empty enum accepts no value") }
                k.enumValues = values
            case "const":
                k.constValue = [value]
            case "minimum": k.minimum = try Self.number(value, at: here)
            case "maximum": k.maximum = try Self.number(value, at: here)
            case "exclusiveMinimum": k.exclusiveMinimum = try Self.exclusiveLimit(value, at: here)
            case "exclusiveMaximum": k.exclusiveMaximum = try Self.exclusiveLimit(value, at: here)
            case "multipleOf":
                let divisor = try Self.number(value, at: here)
                guard divisor.doubleValue > 0 else { throw Self.expected("a number greater than 0", value, here) }
                k.multipleOf = divisor
            case "minLength": k.minLength = try Self.count(value, at: here)
            case "maxLength": k.maxLength = try Self.count(value, at: here)
            case "pattern":
                guard case .string(let source) = value else { throw Self.expected("a string", value, here) }
                do {
                    k.pattern = try CompiledPattern(source)
                } catch {
                    throw JSONSchemaError(
                        path: here,
                        message: "not a valid regular expression: \(SchemaText.value(value))"
                    )
                }
            case "items":
                if case .array = value {
                    throw JSONSchemaError(
                        path: here,
                        message: "expected a schema (an object or a boolean), got an array "
                            + "(the tuple form of items is not supported)"
                    )
                }
                k.items = try compile(value, at: here)
            case "minItems": k.minItems = try Self.count(value, at: here)
            case "maxItems": k.maxItems = try Self.count(value, at: here)
            case "uniqueItems":
                guard case .bool(let unique) = value else { throw Self.expected("a boolean", value, here) }
                k.uniqueItems = unique
            case "properties":
                guard case .object(let properties) = value else {
                    throw Self.expected("an object mapping property names to schemas", value, here)
                }
                for property in properties.keys.sorted() {
                    guard let subschema = properties[property] else { continue }
                    var path = here
                    SchemaText.appendKey(property, to: &path)
                    let node = try compile(subschema, at: path)
                    k.properties[property] = node
                    k.sortedProperties.append((property, node))
                }
            case "required":
                guard case .array(let elements) = value else { throw Self.expected("an array of strings", value, here) }
                for (index, element) in elements.enumerated() {
                    guard case .string(let property) = element else {
                        throw Self.expected("a string", element, "\(here)[\(index)]")
                    }
                    if k.required.contains(property) {
                        warnings.append("\(here): \(SchemaText.value(element)) is listed more than once")
                    } else {
                        k.required.append(property)
                    }
                }
            case "additionalProperties":
                switch value {
                case .bool(true): k.additionalProperties = .allowed
                case .bool(false): k.additionalProperties = .forbidden
                default: k.additionalProperties = .schema(try compile(value, at: here))
                }
            case "minProperties": k.minProperties = try Self.count(value, at: here)
            case "maxProperties": k.maxProperties = try Self.count(value, at: here)
            case "allOf": k.allOf = try compileList(value, at: here)
            case "anyOf": k.anyOf = try compileList(value, at: here)
            case "oneOf": k.oneOf = try compileList(value, at: here)
            case "not": k.not = try compile(value, at: here)
            default:
                if Self.annotations.contains(name) {
                    break
                } else if Self.unsupported.contains(name) {
                    warnings.append("\(location): keyword \(SchemaText.value(.string(name))) is not supported; ignored")
                } else {
                    warnings.append("\(location): unknown keyword \(SchemaText.value(.string(name))) ignored")
                }
            }
        }

        if case .forbidden = k.additionalProperties {
            for property in k.required where k.properties[property] == nil {
                warnings.append(
                    "\(location): required property \(SchemaText.value(.string(property))) is not in properties "
                        + "and additionalProperties is false, so no object is valid"
                )
            }
        }
        return SchemaNode(k)
    }

    private func compileType(
        _ value: JSONValue,
        at here: String
    ) throws(JSONSchemaError) -> (JSONTypeSet, [String]) {
        let entries: [(JSONValue, String)]
        switch value {
        case .string: entries = [(value, here)]
        case .array(let elements):
            guard !elements.isEmpty else {
                throw JSONSchemaError(path: here, message: "expected at least one type name, got []")
            }
            entries = elements.enumerated().map { ($1, "\(here)[\($0)]") }
        default:
            throw Self.expected("a type name or an array of type names", value, here)
        }
        var set: JSONTypeSet = []
        var names: [String] = []
        for (entry, path) in entries {
            guard case .string(let name) = entry else { throw Self.expected("a type name", entry, path) }
            guard let type = JSONTypeSet(name: name) else {
                throw JSONSchemaError(
                    path: path,
                    message: "unknown type \(SchemaText.value(entry)) (expected one of "
                        + SchemaText.list(JSONTypeSet.names, conjunction: "or") + ")"
                )
            }
            if !set.contains(type) { names.append(name) }
            set.insert(type)
        }
        return (set, names)
    }

    private mutating func compileList(_ value: JSONValue, at here: String) throws(JSONSchemaError) -> [SchemaNode] {
        guard case .array(let elements) = value, !elements.isEmpty else {
            throw Self.expected("a non-empty array of schemas", value, here)
        }
        var nodes: [SchemaNode] = []
        nodes.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            nodes.append(try compile(element, at: "\(here)[\(index)]"))
        }
        return nodes
    }

    /// `location.keyword`; keywords (`$ref` included) are written bare, unlike property names.
    private static func at(_ location: String, _ keyword: String) -> String {
        location + "." + keyword
    }

    private static func expected(_ what: String, _ got: JSONValue, _ path: String) -> JSONSchemaError {
        JSONSchemaError(path: path, message: "expected \(what), got \(SchemaText.value(got))")
    }

    /// `exclusiveMinimum` or `exclusiveMaximum`: a number, as in draft 6 and later.
    private static func exclusiveLimit(_ value: JSONValue, at here: String) throws(JSONSchemaError) -> SchemaNumber {
        if case .bool = value {
            throw JSONSchemaError(
                path: here,
                message: "expected a number, got \(SchemaText.value(value)) "
                    + "(the draft-4 boolean form is not supported; give the limit itself as the number)"
            )
        }
        return try number(value, at: here)
    }

    private static func number(_ value: JSONValue, at here: String) throws(JSONSchemaError) -> SchemaNumber {
        guard let number = SchemaNumber(value), number.doubleValue.isFinite else {
            throw expected("a number", value, here)
        }
        return number
    }

    private static func count(_ value: JSONValue, at here: String) throws(JSONSchemaError) -> Int {
        switch value {
        case .int(let i) where i >= 0:
            return Int(clamping: i)
        case .double(let d) where d >= 0 && d.rounded() == d:
            return d >= 9.2e18 ? Int.max : Int(d)
        default:
            throw expected("a non-negative integer", value, here)
        }
    }
}
