//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// The days and months a query names, so that a hybrid search can favour those days' logs
/// (`memory/YYYY-MM-DD.md`, and session notes `memory/YYYY-MM-DD-slug.md`).
///
/// A daily log's date is in its file name, not in its words: "What did I do on 3 June?" shares no
/// keyword with `memory/2023-06-03.md` ("june" is not "06"), and a small local model rarely thinks
/// of calling `memory_get` on the right file. English forms are read:
/// - days: "3 June 2023", "3rd of June", "June 3, 2023", "June 3rd", "2023-06-03", "today",
///   "yesterday", "the day before yesterday", "5 days ago", "last Tuesday", "on Tuesday";
/// - months and weeks (a broader match): "June 2023", "in June", "2023-06", "last month",
///   "this month", "last week" (the seven days before today).
///
/// Without a year, a date is the latest one on or before today ("3 June" asked in May 2026 is
/// 3 June 2025, "29 February" 29 February 2024). A weekday alone ("my Tuesday routine") names nothing; "on Tuesday" is the latest
/// Tuesday on or before today, "last Tuesday" the latest before today.
struct NamedDates: Sendable, Equatable {
    /// A calendar day.
    struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
        var year: Int
        var month: Int
        var day: Int

        static func < (a: Day, b: Day) -> Bool {
            (a.year, a.month, a.day) < (b.year, b.month, b.day)
        }

        /// `YYYY-MM-DD`.
        var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

        /// The day of `date` in the local time zone (the zone daily logs are named in).
        static func local(_ date: Date = Date()) -> Day {
            var t = time_t(date.timeIntervalSince1970)
            var parts = tm()
            localtime_r(&t, &parts)
            return Day(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))
        }

        /// The day `offset` days later (earlier when negative).
        func adding(days offset: Int) -> Day {
            var c = DateComponents()
            (c.year, c.month, c.day) = (year, month, day + offset)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let date = calendar.date(from: c) else { return self }
            let p = calendar.dateComponents([.year, .month, .day], from: date)
            return Day(year: p.year ?? year, month: p.month ?? month, day: p.day ?? day)
        }

        /// 1 = Sunday ... 7 = Saturday.
        var weekday: Int {
            // Zeller-style count from a known Sunday (2023-01-01), through the day number.
            let n = ordinal - Day(year: 2023, month: 1, day: 1).ordinal
            return ((n % 7) + 7) % 7 + 1
        }

        /// Days since 1 March of year 0 (proleptic Gregorian), for differences between days.
        private var ordinal: Int {
            let y = month <= 2 ? year - 1 : year
            let m = month <= 2 ? month + 12 : month
            return 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + day
        }

        /// Whether the day exists (30 February does not).
        var isValid: Bool {
            (1...12).contains(month) && day >= 1 && day <= Day.length(of: month, in: year)
        }

        static func length(of month: Int, in year: Int) -> Int {
            switch month {
            case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }
    }

    /// A month of a year.
    struct Month: Hashable, Sendable, CustomStringConvertible {
        var year: Int
        var month: Int
        /// `YYYY-MM`.
        var description: String { String(format: "%04d-%02d", year, month) }
    }

    /// Days named exactly.
    var days: Set<Day> = []
    /// Days named as part of a range ("last week").
    var nearDays: Set<Day> = []
    /// Months named.
    var months: Set<Month> = []

    var isEmpty: Bool { days.isEmpty && nearDays.isEmpty && months.isEmpty }

    /// The most dates a query names (a 10,000-character query of dates stays cheap).
    static let maxDates = 16

    private static let monthNames = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ]
    /// Abbreviations, read only next to a day number ("Jun 3"): "mar" or "may" alone are words.
    private static let monthAbbreviations = [
        "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
        "nov": 11, "dec": 12,
    ]
    private static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    private static let smallNumbers = [
        "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10,
    ]

    /// A word or number of the query, and what separated it from the one before.
    private struct Token {
        var text: String
        /// The value of a number ("3", "3rd", "2023"), else nil.
        var number: Int?
        /// How many digits a number has.
        var digits: Int
        /// Only "-" between this token and the one before (as in 2023-06-03).
        var afterHyphen: Bool
    }

    private static func tokens(_ query: String) -> [Token] {
        var out: [Token] = []
        var current = ""
        var separator = ""
        func flush() {
            guard !current.isEmpty else { return }
            let digits = current.prefix { $0.isASCII && $0.isNumber }
            let rest = current.dropFirst(digits.count)
            var number: Int?
            if !digits.isEmpty, digits.count <= 4, rest.isEmpty || ["st", "nd", "rd", "th"].contains(String(rest)) {
                number = Int(digits)
            }
            out.append(Token(text: current, number: number, digits: digits.count, afterHyphen: separator == "-"))
            current = ""
            separator = ""
        }
        for ch in query.prefix(20_000).lowercased() {
            if ch.isASCII && (ch.isLetter || ch.isNumber) {
                current.append(ch)
            } else {
                flush()
                if !ch.isWhitespace { separator.append(ch) }
            }
            if out.count >= 4096 { break }
        }
        flush()
        return out
    }

    /// The dates `query` names, with `today` for the relative ones and the missing years.
    static func find(in query: String, today: Day) -> NamedDates {
        let t = tokens(query)
        var found = NamedDates()
        var count = 0
        func add(_ d: Day, near: Bool = false) {
            guard d.isValid, count < maxDates else { return }
            count += 1
            if near { found.nearDays.insert(d) } else { found.days.insert(d) }
        }
        func addMonth(_ m: Month) {
            guard (1...12).contains(m.month), count < maxDates else { return }
            count += 1
            found.months.insert(m)
        }
        /// The latest `month`/`day` on or before today; a day that exists in no year (31 June) is
        /// returned invalid, and ``add`` drops it.
        func latest(month: Int, day: Int) -> Day {
            // 29 February exists in leap years only, at most eight years apart (2096 and 2104).
            for year in stride(from: today.year, through: today.year - 8, by: -1) {
                let d = Day(year: year, month: month, day: day)
                if d.isValid && d <= today { return d }
            }
            return Day(year: today.year, month: month, day: day)
        }
        func monthNumber(_ i: Int, abbreviated: Bool) -> Int? {
            guard i >= 0, i < t.count else { return nil }
            if let n = monthNames.firstIndex(of: t[i].text) { return n + 1 }
            return abbreviated ? monthAbbreviations[t[i].text] : nil
        }
        func text(_ i: Int) -> String? { i >= 0 && i < t.count ? t[i].text : nil }
        func year(_ i: Int) -> Int? {
            guard i < t.count, let n = t[i].number, t[i].digits == 4, (1000...9999).contains(n) else { return nil }
            return n
        }
        func dayNumber(_ i: Int) -> Int? {
            guard i >= 0, i < t.count, let n = t[i].number, t[i].digits <= 2, (1...31).contains(n) else { return nil }
            return n
        }

        /// Adds the day, with the year at token `at` when one is there (else the latest such day);
        /// returns the index of the token after it.
        func addDay(month: Int, day: Int, yearAt at: Int) -> Int {
            guard let y = year(at) else {
                add(latest(month: month, day: day))
                return at
            }
            add(Day(year: y, month: month, day: day))
            return at + 1
        }

        var i = 0
        while i < t.count {
            // 2023-06-03 and 2023-06
            if let y = year(i), i + 1 < t.count, t[i + 1].afterHyphen, let m = t[i + 1].number, t[i + 1].digits <= 2 {
                if i + 2 < t.count, t[i + 2].afterHyphen, let d = t[i + 2].number, t[i + 2].digits <= 2 {
                    add(Day(year: y, month: m, day: d))
                    i += 3
                } else {
                    addMonth(Month(year: y, month: m))
                    i += 2
                }
                continue
            }
            // 3 June 2023, 3rd of June, 3 Jun
            if let d = dayNumber(i) {
                let at = text(i + 1) == "of" ? i + 2 : i + 1
                if let m = monthNumber(at, abbreviated: true) {
                    i = addDay(month: m, day: d, yearAt: at + 1)
                    continue
                }
            }
            // June 3, 2023; June 3rd; June 2023; in June
            if let m = monthNumber(i, abbreviated: dayNumber(i + 1) != nil) {
                if let d = dayNumber(i + 1) {
                    i = addDay(month: m, day: d, yearAt: i + 2)
                    continue
                }
                if let y = year(i + 1) {
                    addMonth(Month(year: y, month: m))
                    i += 2
                    continue
                }
                if let before = text(i - 1), ["in", "during", "of", "since", "early", "late", "mid"].contains(before) {
                    let y = m <= today.month ? today.year : today.year - 1
                    addMonth(Month(year: y, month: m))
                }
                i += 1
                continue
            }
            switch t[i].text {
            case "today", "tonight":
                add(today)
            case "yesterday":
                add(today.adding(days: text(i - 1) == "before" && text(i - 2) == "day" ? -2 : -1))
            case "ago":
                // "5 days ago", "two days ago", "a day ago"
                if let unit = text(i - 1), unit == "day" || unit == "days", i >= 2 {
                    let n = t[i - 2].number ?? smallNumbers[t[i - 2].text]
                    if let n, (1...366).contains(n) { add(today.adding(days: -n)) }
                }
            case "week" where text(i - 1) == "last" || text(i - 1) == "past":
                for back in 1...7 { add(today.adding(days: -back), near: true) }
            case "month" where text(i - 1) == "last":
                let m =
                    today.month == 1
                    ? Month(year: today.year - 1, month: 12) : Month(year: today.year, month: today.month - 1)
                addMonth(m)
            case "month" where text(i - 1) == "this":
                addMonth(Month(year: today.year, month: today.month))
            default:
                if let w = weekdayNames.firstIndex(of: t[i].text), let before = text(i - 1),
                    before == "last" || before == "on" || before == "past"
                {
                    // The latest such weekday on or before today ("last": before today).
                    var back = (today.weekday - (w + 1) + 7) % 7
                    if back == 0, before != "on" { back = 7 }
                    add(today.adding(days: -back))
                }
            }
            i += 1
        }
        return found
    }

    /// The bonus a daily log at `path` (workspace-relative) gets: `dayBonus` for a day named
    /// exactly, `nearBonus` for a day of a named week or month; 0 for any other file.
    func bonus(path: String, dayBonus: Double, nearBonus: Double) -> Double {
        guard let day = Self.logDay(path) else { return 0 }
        if days.contains(day) { return dayBonus }
        if nearDays.contains(day) || months.contains(Month(year: day.year, month: day.month)) { return nearBonus }
        return 0
    }

    /// The day of a daily log `memory/YYYY-MM-DD.md` or `memory/YYYY-MM-DD-slug.md`, else nil.
    static func logDay(_ path: String) -> Day? {
        guard path.hasPrefix("memory/"), path.hasSuffix(".md") else { return nil }
        // "2023-06-03" or "2023-06-03-slug", in `memory/` itself
        let name = Array(path.utf8.dropFirst(7).dropLast(3))
        let hyphen = UInt8(ascii: "-")
        guard name.count >= 10, name[4] == hyphen, name[7] == hyphen, name.count == 10 || name[10] == hyphen,
            !name.contains(UInt8(ascii: "/"))
        else { return nil }
        func number(_ digits: Range<Int>) -> Int? {
            guard name[digits].allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return name[digits].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        let day = Day(year: y, month: m, day: d)
        return day.isValid ? day : nil
    }

    /// The path prefixes of the named days' and months' logs (`memory/2023-06-03`,
    /// `memory/2023-06-`), for range lookups on the chunks' path index; ``bonus(path:dayBonus:nearBonus:)``
    /// then checks each path found.
    var pathPrefixes: [String] {
        (days.union(nearDays).map { "memory/\($0)" } + months.map { "memory/\($0)-" }).sorted()
    }
}
