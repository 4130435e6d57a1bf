//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// Date strings without Foundation formatters (cheap, thread-safe).
public enum AgentDates {
    /// `2026-05-02T10:11:12.345Z` for milliseconds since 1970.
    public static func rfc3339(milliseconds ms: Int64) -> String {
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return ymd(parts) + "T" + hms(parts) + "." + pad(Int(ms % 1000), 3) + "Z"
    }

    /// Milliseconds since 1970 for an RFC 3339 UTC string (`...Z`), or nil.
    public static func milliseconds(rfc3339 s: String) -> Int64? {
        let digits = Array(s.utf8)
        guard digits.count >= 20 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for i in from..<(from + len) {
                guard (48...57).contains(digits[i]) else { return nil }
                v = v * 10 + Int(digits[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
            let sec = num(17, 2)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(y - 1900)
        parts.tm_mon = Int32(mo - 1)
        parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h)
        parts.tm_min = Int32(mi)
        parts.tm_sec = Int32(sec)
        var ms = Int64(timegm(&parts)) * 1000
        if digits.count >= 24, digits[19] == UInt8(ascii: "."), let frac = num(20, 3) { ms += Int64(frac) }
        return ms
    }

    /// The local calendar day `YYYY-MM-DD`, `daysAgo` days before `ms`.
    public static func localDay(milliseconds ms: Int64 = ChatMessage.now(), daysAgo: Int = 0) -> String {
        var t = time_t(ms / 1000) - time_t(daysAgo * 86_400)
        var parts = tm()
        localtime_r(&t, &parts)
        return ymd(parts)
    }

    /// `YYYY-MM-DD HH:MM:SS TZ` in local time.
    public static func localDateTime(milliseconds ms: Int64 = ChatMessage.now()) -> String {
        var t = time_t(ms / 1000)
        var parts = tm()
        localtime_r(&t, &parts)
        let zone = parts.tm_zone.map { String(cString: $0) } ?? ""
        return ymd(parts) + " " + hms(parts) + (zone.isEmpty ? "" : " " + zone)
    }

    /// `YYYY-MM-DD HH:MM` in local time.
    public static func localShort(milliseconds ms: Int64) -> String {
        String(localDateTime(milliseconds: ms).prefix(16))
    }

    static func ymd(_ p: tm) -> String {
        pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2)
    }

    static func hms(_ p: tm) -> String {
        pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2)
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
