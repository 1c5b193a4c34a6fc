// Proleptic Gregorian calendar arithmetic in UTC, without Foundation.
//
// The day-number conversions follow Howard Hinnant's `days_from_civil` and
// `civil_from_days` (http://howardhinnant.github.io/date_algorithms.html),
// rewritten with floor division so that instants before 1970 behave exactly
// like instants after it.

/// A calendar date and time of day in UTC, in the proleptic Gregorian calendar.
///
/// Values produced by ``CivilTime/components(milliseconds:)`` are always valid:
/// `month` is in `1...12`, `day` in `1...CivilTime.daysInMonth(year:month:)`,
/// `hour` in `0...23`, `minute` and `second` in `0...59` and `millisecond` in
/// `0...999`. Values built by hand are not validated; see ``isValid``.
public struct CivilDateTime: Hashable, Sendable {
    /// The Gregorian year; year 0 is 1 BC and negative years are allowed.
    public var year: Int64
    /// The month of the year, 1 (January) through 12 (December).
    public var month: Int
    /// The day of the month, starting at 1.
    public var day: Int
    /// The hour of the day, 0 through 23.
    public var hour: Int
    /// The minute of the hour, 0 through 59.
    public var minute: Int
    /// The second of the minute, 0 through 59 (leap seconds are not represented).
    public var second: Int
    /// The millisecond of the second, 0 through 999.
    public var millisecond: Int

    /// Creates a date and time from its fields; the time of day defaults to midnight.
    public init(
        year: Int64,
        month: Int,
        day: Int,
        hour: Int = 0,
        minute: Int = 0,
        second: Int = 0,
        millisecond: Int = 0
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.millisecond = millisecond
    }

    /// Whether every field is within its calendar range (for example, no February 30 and no hour 24).
    public var isValid: Bool {
        (1...12).contains(month)
            && day >= 1 && day <= CivilTime.daysInMonth(year: year, month: month)
            && (0...23).contains(hour)
            && (0...59).contains(minute)
            && (0...59).contains(second)
            && (0...999).contains(millisecond)
    }
}

/// Namespace for conversions between Unix milliseconds (UTC) and civil dates and times.
///
/// Everything is UTC in the proleptic Gregorian calendar; nothing here reads a
/// clock, a locale or a time zone database. All divisions round toward negative
/// infinity, so instants before 1970 are handled like any other instant.
/// ``components(milliseconds:)``, ``milliseconds(_:)`` (for valid components) and
/// ``rfc3339(milliseconds:)`` accept every `Int64` instant (about 292 million years
/// either side of 1970); other inputs whose results do not fit in `Int64` trap on overflow.
public enum CivilTime {
    /// Milliseconds in one second.
    public static let millisecondsPerSecond: Int64 = 1_000
    /// Milliseconds in one minute.
    public static let millisecondsPerMinute: Int64 = 60_000
    /// Milliseconds in one hour.
    public static let millisecondsPerHour: Int64 = 3_600_000
    /// Milliseconds in one day (UTC has no daylight saving time; leap seconds are ignored).
    public static let millisecondsPerDay: Int64 = 86_400_000

    /// The number of days between 1970-01-01 and the given date (negative before 1970).
    ///
    /// A `month` outside `1...12` is normalized into the neighbouring years
    /// (month 13 of 2025 is January 2026, month 0 is December of the previous year),
    /// and `day` is counted linearly from the first of the month, so day 0 is the
    /// last day of the previous month.
    public static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let (normalizedYear, normalizedMonth) = normalize(year: year, month: month)
        let shiftedYear = normalizedMonth <= 2 ? normalizedYear - 1 : normalizedYear
        let era = floorDivide(shiftedYear, 400)
        let yearOfEra = shiftedYear - era * 400  // 0...399
        let shiftedMonth = Int64(normalizedMonth > 2 ? normalizedMonth - 3 : normalizedMonth + 9)  // March is 0
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1  // 0...365 for valid days
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear  // 0...146096
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of the day that is `days` days after 1970-01-01 (before it when negative).
    public static func date(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shiftedDays = days + 719_468  // days since 0000-03-01
        let era = floorDivide(shiftedDays, 146_097)
        let dayOfEra = shiftedDays - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0...11, March is 0
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Whether `year` has a February 29: divisible by 4, except centuries not divisible by 400.
    public static func isLeapYear(_ year: Int64) -> Bool {
        floorModulo(year, 4) == 0 && (floorModulo(year, 100) != 0 || floorModulo(year, 400) == 0)
    }

    /// The number of days (28 to 31) in the given month; months outside `1...12` are normalized as in ``days(year:month:day:)``.
    public static func daysInMonth(year: Int64, month: Int) -> Int {
        let (normalizedYear, normalizedMonth) = normalize(year: year, month: month)
        switch normalizedMonth {
        case 2:
            return isLeapYear(normalizedYear) ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    /// Splits a Unix instant in milliseconds into its UTC calendar fields.
    public static func components(milliseconds: Int64) -> CivilDateTime {
        let dayNumber = floorDivide(milliseconds, millisecondsPerDay)
        let millisecondOfDay = floorModulo(milliseconds, millisecondsPerDay)  // 0..<86_400_000
        let date = date(days: dayNumber)
        return CivilDateTime(
            year: date.year,
            month: date.month,
            day: date.day,
            hour: Int(millisecondOfDay / millisecondsPerHour),
            minute: Int(millisecondOfDay % millisecondsPerHour / millisecondsPerMinute),
            second: Int(millisecondOfDay % millisecondsPerMinute / millisecondsPerSecond),
            millisecond: Int(millisecondOfDay % millisecondsPerSecond)
        )
    }

    /// The Unix instant in milliseconds of the given UTC date and time.
    ///
    /// Valid components round-trip exactly with ``components(milliseconds:)``.
    /// Out-of-range fields are not rejected: the month is normalized as in
    /// ``days(year:month:day:)`` and the other fields are added linearly
    /// (hour 24 is midnight of the next day). Check ``CivilDateTime/isValid`` first when that matters.
    public static func milliseconds(_ components: CivilDateTime) -> Int64 {
        let dayNumber = days(year: components.year, month: components.month, day: components.day)
        let timeOfDay = Int64(components.hour) * millisecondsPerHour
            + Int64(components.minute) * millisecondsPerMinute
            + Int64(components.second) * millisecondsPerSecond
            + Int64(components.millisecond)
        // Before 1970 the midnight alone can be below Int64.min even when the instant
        // is not (for Int64.min itself), so count from the following midnight instead.
        if dayNumber < 0 {
            return (dayNumber + 1) * millisecondsPerDay + (timeOfDay - millisecondsPerDay)
        }
        return dayNumber * millisecondsPerDay + timeOfDay
    }

    /// The millisecond of the UTC day (`0..<86_400_000`) at which the instant falls.
    public static func millisecondOfDay(milliseconds: Int64) -> Int64 {
        floorModulo(milliseconds, millisecondsPerDay)
    }

    // MARK: - Integer helpers

    /// Division rounding toward negative infinity; `divisor` must be positive.
    static func floorDivide(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        let quotient = dividend / divisor
        return (dividend % divisor < 0) ? quotient - 1 : quotient
    }

    /// Remainder with the sign of the (positive) divisor, in `0..<divisor`.
    static func floorModulo(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        let remainder = dividend % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }

    /// The count of months since January of year 0 (negative before it), for month arithmetic.
    static func monthIndex(year: Int64, month: Int) -> Int64 {
        year * 12 + Int64(month - 1)
    }

    /// The year and month (1...12) of a month index produced by ``monthIndex(year:month:)``.
    static func yearAndMonth(monthIndex: Int64) -> (year: Int64, month: Int) {
        (floorDivide(monthIndex, 12), Int(floorModulo(monthIndex, 12)) + 1)
    }

    /// Moves a month outside `1...12` into the correct year.
    private static func normalize(year: Int64, month: Int) -> (year: Int64, month: Int) {
        if (1...12).contains(month) {
            return (year, month)
        }
        return yearAndMonth(monthIndex: monthIndex(year: year, month: month))
    }
}
