//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Numbers with a fixed count of decimals, as C's `%.Nf` writes them, without Foundation's
/// `String(format:)`: that one goes through `CVarArg` boxes and the runtime's conformance
/// lookups, which cost a one-shot command such as `localgpt memory search` about a millisecond.
public enum FixedDecimal {
    /// `value` with `digits` decimals (0...9), rounded as C rounds it: to nearest, ties to even,
    /// from the exact binary value. NaN and infinities read `nan`, `inf`, `-inf`; values of 1e15
    /// and beyond fall back to `String(value)`.
    public static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        let digits = max(0, min(digits, 9))
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let product = value.magnitude * Double(scale)
        var scaled = product.rounded(.toNearestOrEven)
        if product - product.rounded(.down) == 0.5 {
            // A tie after rounding the product: its exact remainder (one fused multiply-add)
            // tells which side the decimal value lies on, as C's exact conversion would.
            let remainder = (-product).addingProduct(value.magnitude, Double(scale))
            if remainder > 0 { scaled = product.rounded(.up) }
            if remainder < 0 { scaled = product.rounded(.down) }
        }
        guard value.magnitude < 1e15, scaled < 9e18 else { return String(value) }
        let n = UInt64(scaled)
        var out = value.sign == .minus ? "-" : ""
        out += String(n / scale)
        guard digits > 0 else { return out }
        let fraction = String(n % scale)
        out += "."
        out += String(repeating: "0", count: digits - fraction.count)
        out += fraction
        return out
    }
}
