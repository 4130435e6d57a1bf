//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// RFC 3339 UTC timestamps without Foundation's formatters (cheap enough for every audit append).
enum Timestamp {
    /// Now, e.g. `2026-05-02T10:11:12.345Z` (milliseconds) or `2026-05-02T10:11:12Z`.
    static func now(milliseconds: Bool = true) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: ts.tv_sec, milliseconds: milliseconds ? Int(ts.tv_nsec / 1_000_000) : nil)
    }

    static func format(seconds: time_t, milliseconds: Int?) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        var out = ""
        out.reserveCapacity(24)
        out +=
            pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
        out += "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
        if let milliseconds { out += "." + pad(milliseconds, 3) }
        return out + "Z"
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
