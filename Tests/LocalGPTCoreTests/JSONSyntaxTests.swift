//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Testing

@testable import LocalGPTCore

/// The allocation-free syntax check (audit log lines, tool results) accepts exactly what the host's
/// parser accepts: a result it passes is one every reader of it can parse.
@Suite struct JSONSyntaxTests {
    static func nested(_ depth: Int, inner: String = "") -> [UInt8] {
        Array((String(repeating: "[", count: depth) + inner + String(repeating: "]", count: depth)).utf8)
    }

    static let cases: [[UInt8]] = [
        Array("{}".utf8), Array(" {\"a\": [1, -2.5e3, true, null, \"x\"]} ".utf8), Array("\"é ✓ 😀\"".utf8),
        [0xEF, 0xBB, 0xBF] + Array("{}".utf8), Array("{\"oops\": tru".utf8), [],
        Array("\"\\ud83d\\ude00\"".utf8), Array("\"\\ud83d\"".utf8), Array("\"\\ude00\"".utf8),
        Array("\"\\ud83d\\u0041\"".utf8), Array("\"\\ud83dx\"".utf8),
        [0x22, 0xFF, 0xFE, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x9C, 0x22], [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22],
        Array("\"a\u{01}b\"".utf8), Array("[1,]".utf8), Array("01".utf8), Array("{} {}".utf8),
        nested(100), nested(511, inner: "1"), nested(512), nested(512, inner: "{}"), nested(513),
    ]

    @Test(arguments: cases.indices)
    func agreesWithTheParser(index: Int) {
        let bytes = Self.cases[index]
        let parsed = bytes.withUnsafeBufferPointer { (try? JSONValue(parsingUTF8: $0)) != nil }
        let checked = bytes.withUnsafeBufferPointer { JSONSyntax.isValid($0) }
        #expect(checked == parsed, "case \(index): \(String(decoding: bytes.prefix(40), as: UTF8.self))")
    }
}
