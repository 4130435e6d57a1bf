// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The `current_time` tool: the current date and time in a time zone.

import Foundation

/// The current time in one time zone, to the second. Every field describes the same instant.
struct CurrentTime: Encodable, Equatable {
    /// `2026-11-21T20:15:03+02:00`
    var iso8601: String
    /// Seconds since 1970-01-01T00:00:00Z.
    var unix: Int64
    /// The IANA name of the zone, for example `Europe/Berlin`.
    var timezone: String
    /// `+02:00`, `-05:00`, `+05:45`.
    var utcOffset: String
    /// `Saturday`
    var weekday: String
    /// `2026-11-21`
    var date: String
    /// `20:15:03`
    var time: String

    enum CodingKeys: String, CodingKey {
        case iso8601
        case unix
        case timezone
        case utcOffset = "utc_offset"
        case weekday
        case date
        case time
    }

    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// Describes `instant`, truncated to whole seconds, in `zone`.
    ///
    /// - Parameters:
    ///   - instant: The instant; the current time by default.
    ///   - zone: The time zone.
    init(at instant: Date = Date(), in zone: TimeZone) {
        let seconds = instant.timeIntervalSince1970.rounded(.down)
        let unix = Int64(exactly: seconds) ?? 0
        let date = Date(timeIntervalSince1970: Double(unix))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)

        let offsetSeconds = zone.secondsFromGMT(for: date)
        let offsetMinutes = abs(offsetSeconds) / 60
        let offset =
            (offsetSeconds < 0 ? "-" : "+") + Self.padded(offsetMinutes / 60, 2) + ":"
            + Self.padded(offsetMinutes % 60, 2)
        let day =
            Self.padded(parts.year ?? 0, 4) + "-" + Self.padded(parts.month ?? 0, 2) + "-"
            + Self.padded(parts.day ?? 0, 2)
        let time =
            Self.padded(parts.hour ?? 0, 2) + ":" + Self.padded(parts.minute ?? 0, 2) + ":"
            + Self.padded(parts.second ?? 0, 2)
        let weekday = parts.weekday ?? 0

        self.iso8601 = day + "T" + time + offset
        self.unix = unix
        self.timezone = zone.identifier
        self.utcOffset = offset
        self.weekday = (1...7).contains(weekday) ? Self.weekdays[weekday - 1] : ""
        self.date = day
        self.time = time
    }

    /// Finds a time zone by IANA name: exactly, then ignoring case ("europe/berlin", "asia/kolkata"), then as an
    /// abbreviation ("CET", "PST").
    ///
    /// - Parameter name: The name; `nil` or empty means the local time zone.
    /// - Returns: The zone, or `nil` when the name is unknown.
    static func timeZone(named name: String?) -> TimeZone? {
        guard let name, !name.isEmpty else {
            return TimeZone.current
        }
        guard name.unicodeScalars.count <= 100 else {
            return nil
        }
        if let zone = TimeZone(identifier: name) {
            return zone
        }
        let lowercased = name.lowercased()
        if let identifier = TimeZone.knownTimeZoneIdentifiers.first(where: { $0.lowercased() == lowercased }),
            let zone = TimeZone(identifier: identifier)
        {
            return zone
        }
        if let zone = TimeZone(identifier: titleCased(lowercased)) {
            return zone
        }
        if name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic }),
            let zone = TimeZone(abbreviation: name.uppercased())
        {
            return zone
        }
        return nil
    }

    /// "america/new_york" -> "America/New_York": the usual capitalisation of IANA names.
    private static func titleCased(_ name: String) -> String {
        var result = ""
        var startOfWord = true
        for character in name {
            result += startOfWord ? character.uppercased() : String(character)
            startOfWord = character == "/" || character == "_" || character == "-"
        }
        return result
    }

    /// A number padded with zeros to `width` digits.
    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(abs(value))
        let sign = value < 0 ? "-" : ""
        return sign + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
