//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import Testing

/// The message of the error `JSONValue(parsing:)` throws for `text`, or `nil` when it parses.
private func parseError(_ text: String) -> String? {
    do {
        _ = try JSONValue(parsing: text)
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct JSONValueParsingTests {
    // MARK: - Valid documents

    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("1.5", .double(1.5)),
        ("-0.25", .double(-0.25)),
        ("1e3", .double(1000)),
        ("1E+3", .double(1000)),
        ("25e-1", .double(2.5)),
        ("1.0", .double(1)),
        ("\"\"", .string("")),
        ("\"abc\"", .string("abc")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (" \t\r\n 7 \n", .int(7)),
        ("[1,[2,[3]]]", .array([1, .array([2, .array([3])])])),
        ("{\"a\":{\"b\":[true,null]}}", .object(["a": .object(["b": .array([true, .null])])])),
        ("{ \"k\" : 1 , \"l\" : [ ] }", .object(["k": 1, "l": .array([])])),
        ("\u{FEFF}{\"bom\":1}", .object(["bom": 1])),
    ])
    func parsesValidDocuments(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
        #expect(try JSONValue(parsing: Data(text.utf8)) == expected)
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(try JSONValue(parsing: #"{"a":1,"a":2}"#) == ["a": 2])
    }

    // MARK: - Strings and escapes

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"),
        (#""\u0000x""#, "\u{0}x"),
        (#""a\u001fb""#, "a\u{1F}b"),
        (#""\uD83D\uDE00""#, "😀"),
        (#""x\ud834\udd1ey""#, "x𝄞y"),
        ("\"héllo wörld 日本語 😀\"", "héllo wörld 日本語 😀"),
        (#""mixed é \n 😀 \u00e9""#, "mixed é \n 😀 é"),
    ])
    func decodesStringsAndEscapes(text: String, expected: String) throws {
        #expect(try JSONValue(parsing: text) == .string(expected))
    }

    @Test(arguments: [
        #""\uD83D""#,  // lone high surrogate at the end
        #""\uD83Dx""#,  // high surrogate followed by a character
        #""\uD83D\u0041""#,  // high surrogate followed by a non-surrogate escape
        #""\uDE00""#,  // lone low surrogate
        #""\uDE00\uD83D""#,  // reversed pair
    ])
    func rejectsLoneSurrogates(text: String) {
        let message = parseError(text)
        #expect(message?.contains("surrogate") == true, "\(text): \(message ?? "parsed")")
    }

    @Test func rejectsInvalidUTF8() {
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
        ] {
            #expect(throws: JSONValueError.self) { try JSONValue(parsing: Data(bytes)) }
        }
    }

    // MARK: - Numbers

    @Test func integersAndDoublesStayApart() throws {
        #expect(try JSONValue(parsing: "9223372036854775807") == .int(.max))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(.min))
        // One past Int64 becomes a double, as it did with JSONSerialization.
        #expect(try JSONValue(parsing: "9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONValue(parsing: "-9223372036854775809") == .double(-9_223_372_036_854_775_809))
        #expect(try JSONValue(parsing: "18446744073709551616123") == .double(1.8446744073709551616123e22))
        #expect(try JSONValue(parsing: "1e308") == .double(1e308))
        #expect(try JSONValue(parsing: "5e-324") == .double(5e-324))
        #expect(try JSONValue(parsing: "1e-400") == .double(0))
    }

    @Test(arguments: [
        0.1, 1.0 / 3.0, 2.718281828459045, 1e-7, 123_456.789, 1.7976931348623157e308, 4.9e-324, -0.5,
        9_007_199_254_740_993, 1e21, 0.000_001_5,
    ])
    func doublesRoundTripExactly(value: Double) throws {
        let text = JSONValue.double(value).encoded()
        let back = try JSONValue(parsing: text)
        #expect(back.doubleValue == value, "\(value) encoded as \(text)")
    }

    @Test func integersRoundTripExactly() throws {
        for value: Int64 in [0, 1, -1, 1 << 53 + 1, .max, .min, 1_234_567_890_123] {
            #expect(try JSONValue(parsing: JSONValue.int(value).encoded()) == .int(value))
        }
    }

    // MARK: - Invalid documents

    @Test(arguments: [
        ("", "end of input"),
        ("   ", "end of input"),
        ("[1,]", "expected a value"),
        ("[1,2,]", "expected a value"),
        ("{\"a\":1,}", "a key in double quotes"),
        ("[,1]", "expected a value"),
        ("{,}", "a key in double quotes"),
        ("01", "leading zero"),
        ("-01", "leading zero"),
        ("00", "leading zero"),
        ("+1", "expected a value"),
        (".5", "expected a value"),
        ("1.", "after its decimal point"),
        ("1.e5", "after its decimal point"),
        ("1e", "exponent"),
        ("1e+", "exponent"),
        ("-", "end of input"),
        ("-a", "expected a digit"),
        ("1e400", "too large"),
        ("-1e400", "too large"),
        ("NaN", "expected a value"),
        ("Infinity", "expected a value"),
        ("nul", "expected a value"),
        ("tru", "expected a value"),
        ("True", "expected a value"),
        ("'a'", "expected a value"),
        ("{a:1}", "a key in double quotes"),
        ("{\"a\" 1}", "expected ':'"),
        ("{\"a\":1 \"b\":2}", "',' or '}'"),
        ("[1 2]", "',' or ']'"),
        ("[1", "end of input"),
        ("{\"a\":1", "end of input"),
        ("\"abc", "unterminated string"),
        ("\"a\tb\"", "control character"),
        ("\"a\nb\"", "control character"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\u12\"", "4 hex digits"),
        ("\"\\u12G4\"", "4 hex digits"),
        ("1 2", "after the JSON value"),
        ("{} x", "after the JSON value"),
        ("[1] // comment", "after the JSON value"),
        ("/* c */ 1", "expected a value"),
    ])
    func rejectsInvalidDocuments(text: String, reason: String) {
        let message = parseError(text)
        #expect(message?.hasPrefix("not valid JSON: ") == true, "\(text.debugDescription): \(message ?? "parsed")")
        #expect(message?.contains(reason) == true, "\(text.debugDescription): \(message ?? "parsed")")
    }

    @Test func errorsNameTheLineAndColumn() {
        #expect(
            parseError("{\n  \"a\": 1,\n  \"b\": tru\n}")
                == "not valid JSON: unexpected 't', expected a value at line 3, column 8"
        )
        #expect(parseError("[1,]") == "not valid JSON: unexpected ']', expected a value at line 1, column 4")
    }

    @Test func nulBytesAreRejected() {
        #expect(throws: JSONValueError.self) { try JSONValue(parsing: Data([0x31, 0x00])) }
        #expect(throws: JSONValueError.self) { try JSONValue(parsing: Data([0x00])) }
    }

    // MARK: - Depth

    @Test func nestingUpToTheLimitParses() throws {
        let depth = 512
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONValue(parsing: text)
        var levels = 0
        while case .array(let a) = value {
            levels += 1
            value = a.first ?? .null
        }
        #expect(levels == depth)
        let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(throws: Never.self) { try JSONValue(parsing: objects) }
    }

    @Test func nestingBeyondTheLimitIsAnErrorNotACrash() {
        for depth in [513, 100_000] {
            let message = parseError(String(repeating: "[", count: depth))
            #expect(message?.contains("nested more than 512") == true)
            let objects = parseError(String(repeating: "{\"a\":", count: depth))
            #expect(objects?.contains("nested more than 512") == true)
        }
    }

    // MARK: - Encoding

    @Test func encodingIsCompactSortedAndEscaped() throws {
        let value: JSONValue = [
            "b": [1, 2.5, true, nil], "a": "q\"uo\\te\n\t\u{1}é😀", "c": ["z": 1, "y": .object([:])], "d": .array([]),
        ]
        let text = value.encoded()
        #expect(text == #"{"a":"q\"uo\\te\n\t\u0001é😀","b":[1,2.5,true,null],"c":{"y":{},"z":1},"d":[]}"#)
        #expect(try JSONValue(parsing: text) == value)
    }

    @Test func prettyEncodingIndentsByTwoSpaces() {
        let value: JSONValue = ["a": [1, 2], "b": .object([:])]
        #expect(value.encoded(pretty: true) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}")
    }

    @Test func writeStringEscapesControlCharactersOnly() {
        var out = "x"
        JSONValue.writeString("plain é", to: &out)
        JSONValue.writeString("\u{7}\u{1F}\"\\/", to: &out)
        #expect(out == #"x"plain é""\u0007\u001f\"\\/""#)
    }

    @Test func doublesEncodeAsBefore() {
        #expect(JSONValue.double(3).encoded() == "3.0")
        #expect(JSONValue.double(-2).encoded() == "-2.0")
        #expect(JSONValue.double(0.5).encoded() == "0.5")
        #expect(JSONValue.double(1e20).encoded() == "1e+20")
        #expect(JSONValue.double(.nan).encoded() == "null")
        #expect(JSONValue.double(.infinity).encoded() == "null")
    }

    /// A corpus of documents written the way manifests, tool arguments and provider replies are:
    /// parse → encode → parse gives the same value, and matches `JSONSerialization`'s reading.
    @Test func agreesWithJSONSerializationOnACorpus() throws {
        let corpus = [
            #"{"city":"Berlin","days":3,"units":"metric","lang":"de"}"#,
            #"{"id":"org.example.x","version":"1.2.3","abi":{"major":1,"minor":0},"tools":[{"name":"a","parameters":{"type":"object","properties":{"n":{"type":"integer","minimum":-5,"maximum":1e3}},"required":["n"],"additionalProperties":false}}]}"#,
            #"[0.1,-2.5e-3,1E10,12345678901234,"é\u00e9\ud83d\ude00",null,false]"#,
            #"{"nested":{"a":[{"b":[{"c":[]}]}]},"empty":"","esc":"line\nbreak \"q\" back\\slash"}"#,
        ]
        for text in corpus {
            let ours = try JSONValue(parsing: text)
            let theirs = try JSONValue(
                foundation: JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            )
            #expect(ours == theirs, "\(text)")
            #expect(try JSONValue(parsing: ours.encoded()) == ours)
            #expect(try JSONValue(parsing: ours.encoded(pretty: true)) == ours)
        }
    }
}
