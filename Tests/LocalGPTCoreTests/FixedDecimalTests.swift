//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import LocalGPTCore
import Testing

@Suite struct FixedDecimalTests {
    /// Values written as decimals with one more digit than shown ("629.45") are near-ties in
    /// binary, the case where rounding the scaled product alone goes wrong (629.4 instead of C's
    /// 629.5). Every value must read as `String(format:)` writes it.
    @Test func writesWhatPrintfWrites() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        var checked = 0
        for digits in 0...4 {
            for i in 0..<4_000 {
                let sign: Double = next() % 2 == 0 ? 1 : -1
                let value: Double
                if i % 2 == 0 {
                    // A near-tie: an integer over 10^(digits + 1) ending in 5.
                    let tenths = Double(next() % 2_000_000) * 10 + 5
                    value = sign * tenths / pow(10, Double(digits + 1))
                } else {
                    // Anything from 1e-4 to 1e7.
                    value = sign * pow(10, Double(next() % 1_100_000) / 100_000 - 4)
                }
                #expect(FixedDecimal.format(value, digits: digits) == String(format: "%.\(digits)f", value), "\(value)")
                checked += 1
            }
        }
        #expect(checked == 20_000)
    }

    @Test func edgeCases() {
        #expect(FixedDecimal.format(0, digits: 3) == "0.000")
        #expect(FixedDecimal.format(-0.0004, digits: 3) == "-0.000")
        #expect(FixedDecimal.format(2.5, digits: 0) == "2")
        #expect(FixedDecimal.format(3.5, digits: 0) == "4")
        #expect(FixedDecimal.format(0.0005, digits: 3) == "0.001")
        #expect(FixedDecimal.format(1, digits: 2) == "1.00")
        #expect(FixedDecimal.format(0.642, digits: 3) == "0.642")
        #expect(FixedDecimal.format(.nan, digits: 3) == "nan")
        #expect(FixedDecimal.format(-.infinity, digits: 1) == "-inf")
        #expect(FixedDecimal.format(1e20, digits: 2) == String(1e20))
    }
}
