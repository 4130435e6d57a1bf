//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import Testing

/// The flat-arguments fast path may only say "valid" when parsing and validating in full would:
/// checked on hand-picked documents and on thousands of generated near-misses.
@Suite struct FlatArgumentsTests {
    static let schemas: [JSONValue] = [
        [
            "type": "object",
            "properties": [
                "city": ["type": "string", "minLength": 1, "maxLength": 10],
                "days": ["type": "integer", "minimum": 1, "maximum": 7],
                "units": ["type": "string", "enum": ["metric", "imperial"]],
                "lang": ["type": "string"],
                "flag": ["type": "boolean"],
                "note": ["type": ["string", "null"]],
                "any": ["description": "anything"],
            ],
            "required": ["city"],
            "additionalProperties": false,
        ],
        [
            "type": "object",
            "properties": [
                "path": ["type": "string", "pattern": "^[a-z/]+\\.md$"],
                "from": ["type": "number", "exclusiveMinimum": 0, "multipleOf": 2],
                "mode": ["const": "r"],
                "n": ["anyOf": [["type": "integer", "maximum": 3], ["type": "string"]]],
            ],
            "required": ["path", "mode"],
        ],
        ["type": "object"],
        ["type": "object", "properties": ["a": ["type": "integer"]], "required": ["a", "b"]],
        ["type": "object", "minProperties": 1, "properties": ["a": ["type": "integer"]]],
        ["type": "array"],
    ]

    /// What the full path decides: parse, then validate.
    static func fullyValid(_ schema: JSONSchema, _ text: String) -> Bool {
        guard let value = try? JSONValue(parsing: text) else { return false }
        return schema.isValid(value)
    }

    static func fast(_ schema: JSONSchema, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { schema.acceptsFlatArguments($0) }
    }

    @Test func commonArgumentsTakeTheFastPath() throws {
        let schema = try JSONSchema(Self.schemas[0])
        for text in [
            #"{"city":"Berlin","days":3,"units":"metric","lang":"de"}"#,
            #" { "city" : "Oslo" } "#,
            "{\n\t\"city\": \"Rome\",\n\t\"flag\": true,\n\t\"note\": null,\n\t\"any\": -12\n}",
        ] {
            #expect(Self.fast(schema, text), "\(text)")
            #expect(Self.fullyValid(schema, text))
        }
        #expect(Self.fast(try JSONSchema(Self.schemas[2]), "{}"))
    }

    @Test func whatItCannotDecideGoesToTheFullPath() throws {
        let schema = try JSONSchema(Self.schemas[0])
        // Valid, but outside the flat shape: not decided here.
        for text in [
            #"{"city":"Zürich"}"#, #"{"city":"a\"b"}"#, #"{"city":"x","any":[1]}"#, #"{"city":"x","any":1.5}"#,
            #"{"city":"x","any":{"k":1}}"#, #"{"city":"x","days":3e0}"#,
        ] {
            #expect(!Self.fast(schema, text), "\(text)")
        }
        // Invalid: never accepted.
        for text in [
            #"{"city":""}"#, #"{"city":"Berlin","days":8}"#, #"{"city":"Berlin","units":"kelvin"}"#,
            #"{"days":3}"#, #"{"city":"Berlin","extra":1}"#, #"{"city":"Berlin","city":"Rome"}"#,
            #"{"city":"Berlin",}"#, #"{"city":"Berlin"} x"#, #"{"city":"Berlin""#, #"{"city":"Berlin","days":03}"#,
            #"{"city":"Berlin","days":"3"}"#, #"{"city":"abcdefghijk"}"#, #"{"city":"Berlin","flag":tru}"#,
            #"["city"]"#, "", " ", "{\"city\":\"Ber\tlin\"}",
        ] {
            #expect(!Self.fast(schema, text), "\(text)")
        }
        // Root schemas it does not plan for.
        #expect(!Self.fast(try JSONSchema(Self.schemas[3]), #"{"a":1,"b":2}"#))
        #expect(!Self.fast(try JSONSchema(Self.schemas[4]), #"{"a":1}"#))
        #expect(!Self.fast(try JSONSchema(Self.schemas[5]), "[]"))
    }

    /// Thousands of generated documents around each schema: whenever the fast path says valid, the
    /// full path agrees; and it does decide a fair share of the valid ones (many valid ones are
    /// outside the flat shape: undeclared keys, arrays, fractions).
    @Test func neverAcceptsWhatTheFullPathRejects() throws {
        let keys = [
            #""city""#, #""days""#, #""units""#, #""lang""#, #""flag""#, #""note""#, #""any""#, #""path""#,
            #""from""#, #""mode""#, #""n""#, #""a""#, #""b""#, #""CITY""#, #""ci\u0074y""#, #""""#,
        ]
        let values = [
            #""Berlin""#, #""""#, #""metric""#, #""imperial""#, #""r""#, #""docs/a.md""#, #""A.md""#, #""x""#,
            #""abcdefghijk""#, #""é""#, #""a\"b""#, "0", "1", "2", "3", "4", "7", "8", "-1", "-0", "01", "1.0",
            "2.5", "1e1", "-", "999999999999999999", "9999999999999999999", "true", "false", "null", "nul", "[]",
            "{}", #"{"k":1}"#, "[1,2]",
        ]
        let separators = [",", ",", ",", " , ", "", ",,", ":"]
        var rng = SplitMix64(seed: 0x10CA1_6F7)
        var decided = 0
        var validCount = 0
        for schemaValue in Self.schemas {
            let schema = try JSONSchema(schemaValue)
            for _ in 0..<3_000 {
                var text = rng.pick(["{", " {", "{\n", "[", ""])
                let members = Int(rng.next() % 5)
                for m in 0..<members {
                    if m > 0 { text += rng.pick(separators) }
                    text += rng.pick(keys) + rng.pick([":", " : ", ":", ""]) + rng.pick(values)
                }
                text += rng.pick(["}", "}", "} ", "}\n", "", "}}", "} x"])
                let fast = Self.fast(schema, text)
                let full = Self.fullyValid(schema, text)
                if fast && !full { Issue.record("fast path accepted \(text) for \(schemaValue.encoded())") }
                if full { validCount += 1 }
                if fast { decided += 1 }
            }
        }
        #expect(validCount > 500)
        #expect(decided * 4 > validCount, "decided \(decided) of \(validCount) valid documents")
    }
}

/// A small seeded generator, so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
