//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch
import LocalGPTCore
import Synchronization
import Testing

/// Compiles `schema` (JSON text).
private func schema(_ text: String, location: String = "schema") throws -> JSONSchema {
    try JSONSchema(JSONValue(parsing: text), location: location)
}

/// The violations of `value` (JSON text) against `schemaText`, as `path: message` lines.
private func violations(_ schemaText: String, _ value: String) throws -> [String] {
    try schema(schemaText).validate(JSONValue(parsing: value)).map(\.description)
}

/// The violations of `value` against `schemaText`.
private func violations(_ schemaText: String, _ value: JSONValue) throws -> [String] {
    try schema(schemaText).validate(value).map(\.description)
}

/// The compile error for `schemaText`, as `path: message`, or `nil` when it compiles.
private func compileError(_ schemaText: String, location: String = "schema") throws -> String? {
    let value = try JSONValue(parsing: schemaText)
    do {
        _ = try JSONSchema(value, location: location)
        return nil
    } catch {
        return error.description
    }
}

/// A case of `@Test(arguments:)`: a schema, a value, and the expected violations (empty: valid).
struct SchemaCase: Sendable, CustomTestStringConvertible {
    var schema: String
    var value: JSONValue
    var expected: [String]

    init(_ schema: String, _ value: JSONValue, _ expected: String...) {
        self.schema = schema
        self.value = value
        self.expected = expected
    }

    var testDescription: String { "\(schema) ∋ \(value.encoded())" }
}

@Suite("JSONSchema")
struct JSONSchemaTests {
    // MARK: type

    static let typeCases: [SchemaCase] = [
        SchemaCase(#"{"type": "string"}"#, "x"),
        SchemaCase(#"{"type": "string"}"#, 1, "$: expected string, got integer"),
        SchemaCase(#"{"type": "null"}"#, nil),
        SchemaCase(#"{"type": "null"}"#, false, "$: expected null, got boolean"),
        SchemaCase(#"{"type": "boolean"}"#, true),
        SchemaCase(#"{"type": "boolean"}"#, 0, "$: expected boolean, got integer"),
        SchemaCase(#"{"type": "integer"}"#, 7),
        SchemaCase(#"{"type": "integer"}"#, .double(3.0)),
        SchemaCase(#"{"type": "integer"}"#, .double(-0.0)),
        SchemaCase(#"{"type": "integer"}"#, .double(3.5), "$: expected integer, got number"),
        SchemaCase(#"{"type": "integer"}"#, "3", "$: expected integer, got string"),
        SchemaCase(#"{"type": "number"}"#, 7),
        SchemaCase(#"{"type": "number"}"#, .double(7.25)),
        SchemaCase(#"{"type": "number"}"#, "7", "$: expected number, got string"),
        SchemaCase(#"{"type": "array"}"#, [1, 2]),
        SchemaCase(#"{"type": "array"}"#, ["a": 1], "$: expected array, got object"),
        SchemaCase(#"{"type": "object"}"#, ["a": 1]),
        SchemaCase(#"{"type": "object"}"#, [1], "$: expected object, got array"),
        SchemaCase(#"{"type": ["string", "null"]}"#, nil),
        SchemaCase(#"{"type": ["string", "null"]}"#, "x"),
        SchemaCase(#"{"type": ["string", "null"]}"#, 5, "$: expected string or null, got integer"),
        SchemaCase(
            #"{"type": ["string", "integer", "null"]}"#,
            .double(1.5),
            "$: expected string, integer or null, got number"
        ),
    ]

    @Test("type", arguments: typeCases)
    func type(_ c: SchemaCase) throws {
        #expect(try violations(c.schema, c.value) == c.expected)
    }

    @Test func typeMismatchSkipsTheOtherKeywords() throws {
        // One precise message, not a cascade of keywords that cannot apply.
        #expect(
            try violations(#"{"type": "string", "minLength": 3, "enum": ["abc"]}"#, 12)
                == ["$: expected string, got integer"]
        )
    }

    @Test func propertyTypeMessage() throws {
        let s = #"{"type": "object", "properties": {"count": {"type": "integer"}}}"#
        #expect(try violations(s, #"{"count": "three"}"#) == ["$.count: expected integer, got string"])
        #expect(try violations(s, #"{"count": 3}"#).isEmpty)
    }

    // MARK: objects

    static let weather = #"""
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"],
            "additionalProperties": false
        }
        """#

    @Test func commonCaseMessages() throws {
        #expect(try violations(Self.weather, #"{"city": "Oslo", "days": 3, "unit": "celsius"}"#).isEmpty)
        #expect(
            try violations(Self.weather, #"{"city": "Oslo", "days": 9}"#) == ["$.days: 9 is greater than the maximum 7"]
        )
        #expect(try violations(Self.weather, #"{"days": 3}"#) == [#"$: missing required property "city""#])
        #expect(
            try violations(Self.weather, #"{"city": "Oslo", "unit": "kelvin"}"#)
                == [#"$.unit: "kelvin" is not one of "celsius", "fahrenheit""#]
        )
        #expect(
            try violations(Self.weather, #"{"city": "Oslo", "colour": "red"}"#)
                == [#"$: unexpected property "colour" (additionalProperties is false)"#]
        )
    }

    @Test func allViolationsInAStableOrder() throws {
        let found = try violations(Self.weather, #"{"days": 0, "unit": "kelvin", "zeta": 1, "alpha": 2}"#)
        #expect(
            found == [
                #"$: missing required property "city""#,
                "$.days: 0 is less than the minimum 1",
                #"$.unit: "kelvin" is not one of "celsius", "fahrenheit""#,
                #"$: unexpected property "alpha" (additionalProperties is false)"#,
                #"$: unexpected property "zeta" (additionalProperties is false)"#,
            ]
        )
    }

    @Test func requiredListsEveryMissingPropertyInOrder() throws {
        let s = #"{"required": ["b", "a", "c"]}"#
        #expect(
            try violations(s, #"{"c": 1}"#)
                == [#"$: missing required property "b""#, #"$: missing required property "a""#]
        )
        #expect(try violations(s, #"{"a": null, "b": false, "c": 0}"#).isEmpty)
        // required only constrains objects.
        #expect(try violations(s, "[]").isEmpty)
    }

    @Test func additionalPropertiesForms() throws {
        let allowed = #"{"properties": {"a": {"type": "integer"}}}"#
        #expect(try violations(allowed, #"{"a": 1, "b": "anything"}"#).isEmpty)
        let explicitlyAllowed = #"{"properties": {"a": {}}, "additionalProperties": true}"#
        #expect(try violations(explicitlyAllowed, #"{"b": 1}"#).isEmpty)
        let typed = #"{"properties": {"a": {}}, "additionalProperties": {"type": "string"}}"#
        #expect(try violations(typed, #"{"a": 1, "b": "x", "c": "y"}"#).isEmpty)
        #expect(
            try violations(typed, #"{"a": 1, "b": 2, "c": "y", "d": null}"#)
                == ["$.b: expected string, got integer", "$.d: expected string, got null"]
        )
        let none = #"{"additionalProperties": false}"#
        #expect(try violations(none, "{}").isEmpty)
        #expect(
            try violations(none, #"{"x": 1}"#) == [#"$: unexpected property "x" (additionalProperties is false)"#]
        )
    }

    @Test func minAndMaxProperties() throws {
        let s = #"{"minProperties": 1, "maxProperties": 2}"#
        #expect(try violations(s, #"{"a": 1}"#).isEmpty)
        #expect(try violations(s, #"{"a": 1, "b": 2}"#).isEmpty)
        #expect(try violations(s, "{}") == ["$: expected at least 1 property, got 0"])
        #expect(try violations(s, #"{"a": 1, "b": 2, "c": 3}"#) == ["$: expected at most 2 properties, got 3"])
    }

    @Test func nestedPaths() throws {
        let s = #"""
            {"properties": {"a": {"properties": {"b": {"type": "array", "items": {"type": "string"}}}}}}
            """#
        #expect(
            try violations(s, #"{"a": {"b": ["x", 2, "z", false]}}"#) == [
                "$.a.b[1]: expected string, got integer",
                "$.a.b[3]: expected string, got boolean",
            ]
        )
        #expect(try violations(s, #"{"a": {"b": ["x"]}}"#).isEmpty)
        let objects = #"""
            {"items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
            """#
        #expect(
            try violations(objects, #"[{"name": "a"}, {"name": "b"}, {"name": 3}, {}]"#) == [
                "$[2].name: expected string, got integer",
                #"$[3]: missing required property "name""#,
            ]
        )
    }

    @Test func pathsQuoteKeysThatAreNotIdentifiers() throws {
        let s =
            #"{"properties": {"first name": {"type": "string"}, "x-1": {"type": "string"}, "_ok2": {"#
            + #""type": "string"}}}"#
        #expect(
            try violations(s, #"{"first name": 1, "x-1": 2, "_ok2": 3}"#) == [
                "$._ok2: expected string, got integer",
                #"$["first name"]: expected string, got integer"#,
                #"$["x-1"]: expected string, got integer"#,
            ]
        )
    }

    // MARK: enum and const

    @Test func enumValues() throws {
        let s = #"{"enum": ["a", 1, null, [1, 2], {"k": true}]}"#
        for valid in [#""a""#, "1", "1.0", "null", "[1, 2]", "[1.0, 2]", #"{"k": true}"#] {
            #expect(try violations(s, valid).isEmpty, "\(valid)")
        }
        #expect(try violations(s, #""b""#) == [#"$: "b" is not one of "a", 1, null, [1,2], {"k":true}"#])
        #expect(try violations(s, "1.5") == [#"$: 1.5 is not one of "a", 1, null, [1,2], {"k":true}"#])
        #expect(try violations(s, "[2, 1]").count == 1)
        #expect(try violations(s, #"{"k": true, "j": 1}"#).count == 1)
        #expect(try violations(s, "true").count == 1)
    }

    @Test func enumListIsCappedInMessages() throws {
        let values = (1...15).map(String.init).joined(separator: ", ")
        #expect(
            try violations("{\"enum\": [\(values)]}", "99")
                == ["$: 99 is not one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (5 more)"]
        )
    }

    @Test func constValues() throws {
        #expect(try violations(#"{"const": "on"}"#, #""on""#).isEmpty)
        #expect(try violations(#"{"const": "on"}"#, #""off""#) == [#"$: "off" is not equal to the constant "on""#])
        #expect(try violations(#"{"const": null}"#, "null").isEmpty)
        #expect(try violations(#"{"const": null}"#, "0") == ["$: 0 is not equal to the constant null"])
        #expect(try violations(#"{"const": {"a": [1, 2]}}"#, #"{"a": [1.0, 2.0]}"#).isEmpty)
        #expect(try violations(#"{"const": {"a": [1, 2]}}"#, #"{"a": [1, 2, 3]}"#).count == 1)
    }

    // MARK: 1 versus 1.0

    @Test(arguments: [
        (JSONValue.int(1), JSONValue.double(1.0), true),
        (.double(1.0), .int(1), true),
        (.int(0), .double(-0.0), true),
        (.int(1), .double(1.5), false),
        (.int(9_007_199_254_740_993), .double(9_007_199_254_740_992), false),  // 2^53 + 1 vs 2^53
        (.int(9_007_199_254_740_992), .double(9_007_199_254_740_992), true),
        (.int(1), .string("1"), false),
        (.int(1), .bool(true), false),
        (.array([.int(1), .object(["a": .double(2.0)])]), .array([.double(1.0), .object(["a": .int(2)])]), true),
    ])
    func numericEquality(_ a: JSONValue, _ b: JSONValue, _ equal: Bool) throws {
        let s = try JSONSchema(["const": a])
        #expect(s.isValid(b) == equal)
        let e = try JSONSchema(["enum": [b]])
        #expect(e.isValid(a) == equal)
        let u = try JSONSchema(["uniqueItems": true])
        #expect(u.isValid([a, b]) == !equal)
    }

    @Test func integerTypeAcceptsIntegralDoublesOnly() throws {
        let s = try schema(#"{"type": "integer"}"#)
        #expect(s.isValid(.double(3.0)))
        #expect(s.isValid(.double(1e20)))
        #expect(!s.isValid(.double(3.000001)))
        #expect(try schema(#"{"type": "number"}"#).isValid(.int(Int64.max)))
        // Parsed from text too: "3.0" is a double with no fractional part.
        #expect(try JSONValue(parsing: "3.0") == .double(3.0))
        #expect(try violations(#"{"type": "integer"}"#, "3.0").isEmpty)
        #expect(try violations(#"{"type": "integer"}"#, "3.1") == ["$: expected integer, got number"])
    }

    // MARK: numbers

    static let numberCases: [SchemaCase] = [
        SchemaCase(#"{"minimum": 1}"#, 1),
        SchemaCase(#"{"minimum": 1}"#, 0, "$: 0 is less than the minimum 1"),
        SchemaCase(#"{"minimum": 1}"#, .double(0.5), "$: 0.5 is less than the minimum 1"),
        SchemaCase(#"{"minimum": 1.5}"#, 1, "$: 1 is less than the minimum 1.5"),
        SchemaCase(#"{"minimum": 1.5}"#, 2),
        SchemaCase(#"{"maximum": 7}"#, 7),
        SchemaCase(#"{"maximum": 7}"#, .double(7.0)),
        SchemaCase(#"{"maximum": 7}"#, .double(7.01), "$: 7.01 is greater than the maximum 7"),
        SchemaCase(#"{"maximum": 7}"#, 9, "$: 9 is greater than the maximum 7"),
        SchemaCase(#"{"exclusiveMinimum": 0}"#, 1),
        SchemaCase(#"{"exclusiveMinimum": 0}"#, .double(0.001)),
        SchemaCase(#"{"exclusiveMinimum": 0}"#, 0, "$: 0 is not greater than the exclusive minimum 0"),
        SchemaCase(#"{"exclusiveMaximum": 10}"#, .double(9.99)),
        SchemaCase(#"{"exclusiveMaximum": 10}"#, 10, "$: 10 is not less than the exclusive maximum 10"),
        SchemaCase(#"{"exclusiveMaximum": 10}"#, .double(10.0), "$: 10.0 is not less than the exclusive maximum 10"),
        SchemaCase(
            #"{"maximum": 9007199254740992}"#,
            .int(9_007_199_254_740_993),
            "$: 9007199254740993 is greater than the maximum 9007199254740992"
        ),
        SchemaCase(
            #"{"maximum": 9007199254740992.0}"#,
            .int(9_007_199_254_740_993),
            "$: 9007199254740993 is greater than the maximum 9007199254740992.0"
        ),
        SchemaCase(#"{"multipleOf": 2}"#, 8),
        SchemaCase(#"{"multipleOf": 2}"#, 0),
        SchemaCase(#"{"multipleOf": 2}"#, -4),
        SchemaCase(#"{"multipleOf": 2}"#, 7, "$: 7 is not a multiple of 2"),
        SchemaCase(#"{"multipleOf": 2}"#, .double(8.0)),
        SchemaCase(#"{"multipleOf": 2}"#, .double(7.5), "$: 7.5 is not a multiple of 2"),
        SchemaCase(#"{"multipleOf": 0.1}"#, .double(0.3)),
        SchemaCase(#"{"multipleOf": 0.01}"#, .double(19.99)),
        SchemaCase(#"{"multipleOf": 0.5}"#, 3),
        SchemaCase(#"{"multipleOf": 0.1}"#, .double(0.35), "$: 0.35 is not a multiple of 0.1"),
        SchemaCase(
            #"{"multipleOf": 2.0}"#,
            .int(4_611_686_018_427_387_905),
            "$: 4611686018427387905 is not a multiple of 2.0"
        ),
        // Number keywords do not constrain other types.
        SchemaCase(#"{"minimum": 5, "multipleOf": 3}"#, "1"),
    ]

    @Test("numbers", arguments: numberCases)
    func numbers(_ c: SchemaCase) throws {
        #expect(try violations(c.schema, c.value) == c.expected)
    }

    @Test func everyNumberKeywordReports() throws {
        let s = #"{"minimum": 10, "exclusiveMinimum": 10, "multipleOf": 4}"#
        #expect(
            try violations(s, 5) == [
                "$: 5 is less than the minimum 10",
                "$: 5 is not greater than the exclusive minimum 10",
                "$: 5 is not a multiple of 4",
            ]
        )
        // The limit holds even when one schema reports several violations at once.
        #expect(try schema(s).validate(5, limit: 2).count == 2)
        #expect(try schema(s).firstViolation(5)?.message == "5 is less than the minimum 10")
    }

    // MARK: strings

    static let stringCases: [SchemaCase] = [
        SchemaCase(#"{"minLength": 2, "maxLength": 3}"#, "ab"),
        SchemaCase(#"{"minLength": 2, "maxLength": 3}"#, "abc"),
        SchemaCase(#"{"minLength": 2}"#, "a", #"$: "a" (length 1) is shorter than the minimum length 2"#),
        SchemaCase(#"{"maxLength": 3}"#, "abcd", #"$: "abcd" (length 4) is longer than the maximum length 3"#),
        // An emoji is one code point (four UTF-8 bytes, two UTF-16 units).
        SchemaCase(#"{"maxLength": 1}"#, "😀"),
        SchemaCase(#"{"minLength": 2}"#, "😀", #"$: "😀" (length 1) is shorter than the minimum length 2"#),
        SchemaCase(#"{"minLength": 3, "maxLength": 3}"#, "😀é中"),
        SchemaCase(#"{"maxLength": 2}"#, "😀😀😀", #"$: "😀😀😀" (length 3) is longer than the maximum length 2"#),
        // Code points, not grapheme clusters: e + combining acute is two; a skin-toned thumb is two.
        SchemaCase(#"{"maxLength": 1}"#, "e\u{301}", "$: \"e\u{301}\" (length 2) is longer than the maximum length 1"),
        SchemaCase(#"{"minLength": 2, "maxLength": 2}"#, "👍🏽"),
        SchemaCase(#"{"minLength": 2}"#, "e\u{301}"),
        SchemaCase(#"{"maxLength": 0}"#, ""),
        SchemaCase(#"{"minLength": 1}"#, "", #"$: "" (length 0) is shorter than the minimum length 1"#),
        SchemaCase(#"{"pattern": "^[a-z]+$"}"#, "abc"),
        SchemaCase(#"{"pattern": "^[a-z]+$"}"#, "abc1", #"$: "abc1" does not match the pattern "^[a-z]+$""#),
        // Unanchored: the pattern may match anywhere.
        SchemaCase(#"{"pattern": "[0-9]"}"#, "abc1def"),
        SchemaCase(#"{"pattern": "[0-9]"}"#, "abcdef", #"$: "abcdef" does not match the pattern "[0-9]""#),
        SchemaCase(#"{"pattern": "^\\d{4}-\\d{2}-\\d{2}$"}"#, "2024-06-01"),
        SchemaCase(#"{"pattern": "^.$"}"#, "😀"),
        SchemaCase(#"{"pattern": "x", "minLength": 5}"#, 12),
    ]

    @Test("strings", arguments: stringCases)
    func strings(_ c: SchemaCase) throws {
        #expect(try violations(c.schema, c.value) == c.expected)
    }

    @Test func longValuesAreTruncatedInMessages() throws {
        let long = String(repeating: "abcdefghij", count: 1000)
        let found = try schema(#"{"maxLength": 5}"#).validate(.string(long))
        let message = try #require(found.first).message
        #expect(message.hasPrefix(#""abcdefghij"#))
        #expect(message.contains("…\" (length 10000) is longer than the maximum length 5"))
        #expect(message.count < 120)

        let quoted = try #require(try schema(#"{"enum": [1]}"#).validate(.string(long)).first).message
        #expect(quoted.count < 100)
        let bigArray = JSONValue.array(Array(repeating: .string(long), count: 100))
        let arrayMessage = try #require(try schema(#"{"const": 1}"#).validate(bigArray).first).message
        #expect(arrayMessage.hasPrefix("[\"abcdefghij"))
        #expect(arrayMessage.count < 120)

        // Escapes count against the limit too.
        let controls = String(repeating: "\u{1}", count: 100)
        let escaped = try #require(try schema(#"{"const": 1}"#).validate(.string(controls)).first).message
        #expect(escaped.hasPrefix(#""\u0001\u0001"#))
        #expect(escaped.hasSuffix(#"…" is not equal to the constant 1"#))
        #expect(escaped.count < 100)
    }

    // MARK: arrays

    static let arrayCases: [SchemaCase] = [
        SchemaCase(#"{"items": {"type": "integer"}}"#, [1, 2, 3]),
        SchemaCase(#"{"items": {"type": "integer"}}"#, []),
        SchemaCase(#"{"items": {"type": "integer"}}"#, [1, "2"], "$[1]: expected integer, got string"),
        SchemaCase(#"{"minItems": 2}"#, [1, 2]),
        SchemaCase(#"{"minItems": 2}"#, [1], "$: expected at least 2 items, got 1"),
        SchemaCase(#"{"maxItems": 1}"#, [1]),
        SchemaCase(#"{"maxItems": 1}"#, [1, 2, 3], "$: expected at most 1 item, got 3"),
        SchemaCase(#"{"uniqueItems": true}"#, [1, "1", [1], ["1": 1], true, nil]),
        SchemaCase(#"{"uniqueItems": true}"#, ["a", "b", "a"], "$: items 0 and 2 are equal (uniqueItems is true)"),
        SchemaCase(#"{"uniqueItems": true}"#, [2, .double(2.0)], "$: items 0 and 1 are equal (uniqueItems is true)"),
        SchemaCase(
            #"{"uniqueItems": true}"#,
            [["a": 1, "b": 2], ["b": 2, "a": .double(1.0)]],
            "$: items 0 and 1 are equal (uniqueItems is true)"
        ),
        SchemaCase(#"{"uniqueItems": false}"#, [1, 1]),
        // Code point equality: precomposed and decomposed é are different strings.
        SchemaCase(#"{"uniqueItems": true}"#, ["\u{E9}", "e\u{301}"]),
        SchemaCase(#"{"minItems": 5, "uniqueItems": true}"#, "not an array"),
    ]

    @Test("arrays", arguments: arrayCases)
    func arrays(_ c: SchemaCase) throws {
        #expect(try violations(c.schema, c.value) == c.expected)
    }

    @Test func uniqueItemsOnLargeArraysUsesValueEquality() throws {
        let s = try schema(#"{"uniqueItems": true}"#)
        var items: [JSONValue] = (0..<100).map { .int(Int64($0)) }
        #expect(s.isValid(.array(items)))
        items.append(.double(42.0))
        #expect(s.validate(.array(items)).map(\.description) == ["$: items 42 and 100 are equal (uniqueItems is true)"])
        var strings: [JSONValue] = (0..<50).map { .string("s\($0)") }
        strings.append(.string("\u{E9}"))
        strings.append(.string("e\u{301}"))
        #expect(s.isValid(.array(strings)))
        strings.append(.object(["x": [.int(1), .double(2.5)]]))
        strings.append(.object(["x": [.double(1.0), .double(2.5)]]))
        #expect(
            s.validate(.array(strings)).map(\.description) == ["$: items 52 and 53 are equal (uniqueItems is true)"]
        )
    }

    // MARK: combinators

    @Test func anyOf() throws {
        let s = #"{"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer", "minimum": 0}]}"#
        #expect(try violations(s, #""abc""#).isEmpty)
        #expect(try violations(s, "5").isEmpty)
        #expect(
            try violations(s, "-1") == [
                "$: matches none of the schemas in anyOf ([0] expected string, got integer; "
                    + "[1] -1 is less than the minimum 0)"
            ]
        )
        let nested = #"{"properties": {"a": {"anyOf": [{"properties": {"b": {"type": "string"}}}, {"type": "null"}]}}}"#
        #expect(
            try violations(nested, #"{"a": {"b": 1}}"#) == [
                "$.a: matches none of the schemas in anyOf ([0] $.a.b: expected string, got integer; "
                    + "[1] expected null, got object)"
            ]
        )
        #expect(try violations(nested, #"{"a": null}"#).isEmpty)
    }

    @Test func oneOf() throws {
        let s = #"{"oneOf": [{"type": "integer"}, {"minimum": 10}]}"#
        #expect(try violations(s, "5").isEmpty)
        #expect(try violations(s, "10.5").isEmpty)
        #expect(try violations(s, "12") == ["$: matches more than one schema in oneOf (oneOf[0] and oneOf[1])"])
        #expect(
            try violations(s, "2.5") == [
                "$: matches none of the schemas in oneOf ([0] expected integer, got number; "
                    + "[1] 2.5 is less than the minimum 10)"
            ]
        )
    }

    @Test func allOfReportsEachSubschemasViolations() throws {
        let s = #"{"allOf": [{"type": "integer"}, {"minimum": 3}, {"maximum": 5}]}"#
        #expect(try violations(s, "4").isEmpty)
        #expect(try violations(s, "9") == ["$: 9 is greater than the maximum 5"])
        #expect(try violations(s, "2") == ["$: 2 is less than the minimum 3"])
        #expect(try violations(s, #""x""#) == ["$: expected integer, got string"])
    }

    @Test func not() throws {
        let s = #"{"not": {"type": "string"}}"#
        #expect(try violations(s, "1").isEmpty)
        #expect(try violations(s, #""x""#) == ["$: must not match the schema in not"])
        // A not inside an anyOf branch, checked quietly.
        let nested = #"{"anyOf": [{"not": {"const": 0}}, {"type": "string"}]}"#
        #expect(try violations(nested, "1").isEmpty)
        #expect(try violations(nested, "0").count == 1)
    }

    @Test func combinatorsNestInsideQuietChecks() throws {
        let s =
            #"{"anyOf": [{"oneOf": [{"const": 1}, {"const": 2}]}, {"allOf": [{"type": "string"}, {"minLength": 2}]}]}"#
        for valid in ["1", "2", #""ab""#] { #expect(try violations(s, valid).isEmpty, "\(valid)") }
        for invalid in ["3", #""a""#, "null"] { #expect(try violations(s, invalid).count == 1, "\(invalid)") }
    }

    // MARK: boolean schemas

    @Test func booleanSchemas() throws {
        #expect(try JSONSchema(true).isValid(["anything": [1, 2]]))
        let never = try JSONSchema(false)
        #expect(never.validate(1).map(\.description) == ["$: no value is allowed here (the schema is false)"])
        #expect(never.firstViolation(nil)?.keyword == "false")
        let s = #"{"properties": {"legacy": false, "free": true}}"#
        #expect(try violations(s, #"{"free": [1], "other": 2}"#).isEmpty)
        #expect(
            try violations(s, #"{"legacy": 1}"#) == ["$.legacy: no value is allowed here (the schema is false)"]
        )
        #expect(try violations(#"{"items": false}"#, "[]").isEmpty)
        #expect(try violations(#"{"items": false}"#, "[0]") == ["$[0]: no value is allowed here (the schema is false)"])
        #expect(try violations("{}", #"{"x": [null]}"#).isEmpty)
    }

    // MARK: convenience and limits

    @Test func firstViolationAndIsValid() throws {
        let s = try schema(Self.weather)
        let bad = try JSONValue(parsing: #"{"days": 9, "colour": 1}"#)
        let first = try #require(s.firstViolation(bad))
        #expect(first.description == #"$: missing required property "city""#)
        #expect(first.path == "$")
        #expect(first.keyword == "required")
        #expect(s.validate(bad).count == 3)
        #expect(!s.isValid(bad))
        #expect(s.isValid(["city": "Oslo"]))
        #expect(s.firstViolation(["city": "Oslo"]) == nil)
    }

    @Test func violationsAreCapped() throws {
        let s = try schema(#"{"items": {"type": "string"}}"#)
        let value = JSONValue.array((0..<100).map { .int(Int64($0)) })
        let found = s.validate(value)
        #expect(found.count == JSONSchema.defaultViolationLimit)
        #expect(found.count == 20)
        #expect(found.last?.path == "$[19]")
        #expect(s.validate(value, limit: 3).count == 3)
    }

    @Test func violationFields() throws {
        let v = try #require(try schema(#"{"properties": {"n": {"maximum": 1}}}"#).firstViolation(["n": 2]))
        #expect(v.path == "$.n")
        #expect(v.message == "2 is greater than the maximum 1")
        #expect(v.keyword == "maximum")
        #expect(v.description == "$.n: 2 is greater than the maximum 1")
    }

    // MARK: compile errors

    static let typeNames = "(expected one of null, boolean, integer, number, string, array or object)"

    static let compileErrorCases: [(String, String)] = [
        (
            #"{"properties": {"days": {"minimum": "seven"}}}"#,
            #"parameters.properties.days.minimum: expected a number, got "seven""#
        ),
        (
            #"{"type": "strin"}"#,
            #"parameters.type: unknown type "strin" "# + typeNames
        ),
        (
            #"{"type": ["string", "float"]}"#,
            #"parameters.type[1]: unknown type "float" "# + typeNames
        ),
        (#"{"type": 5}"#, "parameters.type: expected a type name or an array of type names, got 5"),
        (#"{"type": []}"#, "parameters.type: expected at least one type name, got []"),
        (#"{"required": "city"}"#, #"parameters.required: expected an array of strings, got "city""#),
        (#"{"required": ["city", 2]}"#, "parameters.required[1]: expected a string, got 2"),
        (
            #"{"properties": {"code": {"pattern": "[a-"}}}"#,
            #"parameters.properties.code.pattern: not a valid regular expression: "[a-""#
        ),
        (#"{"pattern": 5}"#, "parameters.pattern: expected a string, got 5"),
        (#"{"properties": []}"#, "parameters.properties: expected an object mapping property names to schemas, got []"),
        (#"{"properties": {"a": 1}}"#, "parameters.properties.a: expected a schema (an object or a boolean), got 1"),
        (
            #"{"properties": {"a b": "string"}}"#,
            #"parameters.properties["a b"]: expected a schema (an object or a boolean), got "string""#
        ),
        (
            #"{"additionalProperties": "no"}"#,
            #"parameters.additionalProperties: expected a schema (an object or a boolean), got "no""#
        ),
        (#"{"enum": "a"}"#, #"parameters.enum: expected an array, got "a""#),
        (
            #"{"exclusiveMaximum": true, "maximum": 5}"#,
            "parameters.exclusiveMaximum: expected a number, got true "
                + "(the draft-4 boolean form is not supported; give the limit itself as the number)"
        ),
        (#"{"multipleOf": 0}"#, "parameters.multipleOf: expected a number greater than 0, got 0"),
        (#"{"multipleOf": -2}"#, "parameters.multipleOf: expected a number greater than 0, got -2"),
        (#"{"minLength": -1}"#, "parameters.minLength: expected a non-negative integer, got -1"),
        (#"{"maxItems": 1.5}"#, "parameters.maxItems: expected a non-negative integer, got 1.5"),
        (#"{"minProperties": "2"}"#, #"parameters.minProperties: expected a non-negative integer, got "2""#),
        (#"{"uniqueItems": "yes"}"#, #"parameters.uniqueItems: expected a boolean, got "yes""#),
        (
            #"{"items": [{"type": "string"}]}"#,
            "parameters.items: expected a schema (an object or a boolean), got an array "
                + "(the tuple form of items is not supported)"
        ),
        (
            #"{"items": {"type": "strng"}}"#,
            #"parameters.items.type: unknown type "strng" "# + typeNames
        ),
        (#"{"anyOf": []}"#, "parameters.anyOf: expected a non-empty array of schemas, got []"),
        (
            #"{"oneOf": {"type": "string"}}"#,
            #"parameters.oneOf: expected a non-empty array of schemas, got {"type":"string"}"#
        ),
        (#"{"allOf": [{}, {"minimum": null}]}"#, "parameters.allOf[1].minimum: expected a number, got null"),
        (#"{"not": 3}"#, "parameters.not: expected a schema (an object or a boolean), got 3"),
        (
            ##"{"properties": {"a": {"$ref": "#/$defs/a"}}}"##,
            "parameters.properties.a.$ref: $ref is not supported; inline the referenced schema"
        ),
        (#""string""#, #"parameters: expected a schema (an object or a boolean), got "string""#),
    ]

    @Test("compile errors", arguments: compileErrorCases)
    func compileErrors(_ schemaText: String, _ expected: String) throws {
        #expect(try compileError(schemaText, location: "parameters") == expected)
    }

    @Test func compileErrorFields() throws {
        do {
            _ = try JSONSchema(["properties": ["days": ["maximum": "seven"]]])
            Issue.record("expected a compile error")
        } catch {
            #expect(error.path == "schema.properties.days.maximum")
            #expect(error.message == #"expected a number, got "seven""#)
        }
    }

    @Test func validSchemasCompile() throws {
        #expect(try compileError(Self.weather) == nil)
        #expect(try compileError(#"{"exclusiveMinimum": 0.5, "multipleOf": 0.25, "maxLength": 2.0}"#) == nil)
        #expect(try compileError("true") == nil)
    }

    // MARK: warnings

    @Test func annotationsAreIgnoredSilently() throws {
        let s = try schema(
            #"""
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "$comment": "c",
                "title": "T", "description": "D", "default": 3, "examples": [1], "format": "email",
                "deprecated": false, "readOnly": false, "writeOnly": false, "type": "string"
            }
            """#
        )
        #expect(s.warnings.isEmpty)
        // format is an annotation: not checked.
        #expect(s.isValid("not an email"))
    }

    @Test func unknownKeywordsAreIgnoredWithAWarning() throws {
        let s = try schema(
            #"{"type": "object", "properties": {"x": {"type": "string", "nullable": true}}, "patternProperties": {}}"#,
            location: "parameters"
        )
        #expect(
            s.warnings == [
                #"parameters: keyword "patternProperties" is not supported; ignored"#,
                #"parameters.properties.x: unknown keyword "nullable" ignored"#,
            ]
        )
        #expect(s.isValid(["x": "a", "y": 1]))
        #expect(!s.isValid(["x": nil]))
    }

    @Test func suspiciousSchemasWarn() throws {
        let s = try schema(#"{"required": ["a", "a", "b"], "properties": {"a": {}}, "additionalProperties": false}"#)
        #expect(
            s.warnings == [
                #"schema.required: "a" is listed more than once"#,
                #"schema: required property "b" is not in properties and additionalProperties is false, "#
                    + "so no object is valid",
            ]
        )
        #expect(try schema(#"{"enum": []}"#).warnings == ["schema.enum: an empty enum accepts no value"])
    }

    // MARK: concurrency

    @Test func concurrentValidation() throws {
        let s = try schema(
            #"""
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z]+-[0-9]+$"},
                    "n": {"anyOf": [{"type": "integer", "maximum": 100}, {"type": "null"}]}
                },
                "required": ["id"],
                "additionalProperties": false
            }
            """#
        )
        let failures = Mutex<[String]>([])
        let validated = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<500 {
                let good: JSONValue = [
                    "id": .string("t-\(thread * 1000 + i)"), "n": i % 2 == 0 ? .int(Int64(i % 100)) : nil,
                ]
                let bad: JSONValue = ["id": .string("T\(i)"), "n": 101]
                let goodResult = s.validate(good).map(\.description)
                let badResult = s.validate(bad).map(\.description)
                let expectedBad = [
                    "$.id: \"T\(i)\" does not match the pattern \"^[a-z]+-[0-9]+$\"",
                    "$.n: matches none of the schemas in anyOf ([0] 101 is greater than the maximum 100; "
                        + "[1] expected null, got integer)",
                ]
                if !goodResult.isEmpty || badResult != expectedBad {
                    failures.withLock { $0.append("thread \(thread) #\(i): \(goodResult) \(badResult)") }
                }
                validated.add(2, ordering: .relaxed)
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(validated.load(ordering: .relaxed) == 8 * 500 * 2)
    }
}
