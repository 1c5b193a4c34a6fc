/// UTC calendar dates and times from milliseconds since 1970 with plain integer arithmetic
/// (Howard Hinnant's `civil_from_days`), for the PostgreSQL and Redis encoders' hot paths.
enum UTCCivilDate {
    static let millisecondsPerDay: Int64 = 86_400_000

    /// Whole days since 1970-01-01 (floor, also for times before 1970).
    static func dayNumber(_ milliseconds: Int64) -> Int64 {
        let (quotient, remainder) = milliseconds.quotientAndRemainder(dividingBy: millisecondsPerDay)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// Milliseconds since midnight of the UTC day.
    static func millisecondOfDay(_ milliseconds: Int64) -> Int64 {
        milliseconds - dayNumber(milliseconds) * millisecondsPerDay
    }

    /// Midnight (UTC) of the day containing `milliseconds`.
    static func dayStart(_ milliseconds: Int64) -> Int64 { dayNumber(milliseconds) * millisecondsPerDay }

    /// Midnight (UTC) of the first day of the month containing `milliseconds`.
    static func monthStart(_ milliseconds: Int64) -> Int64 {
        let date = civil(dayNumber: dayNumber(milliseconds))
        return dayNumber(year: date.year, month: date.month, day: 1) * millisecondsPerDay
    }

    /// Midnight (UTC) of the first day of the month after the one containing `milliseconds`.
    static func nextMonthStart(_ milliseconds: Int64) -> Int64 {
        let date = civil(dayNumber: dayNumber(milliseconds))
        let next = date.month == 12 ? (date.year + 1, Int64(1)) : (date.year, date.month + 1)
        return dayNumber(year: next.0, month: next.1, day: 1) * millisecondsPerDay
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
    static func dayNumber(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Year, month (1...12) and day (1...31) of a day number.
    static func civil(dayNumber: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = dayNumber + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// "yyyymmdd" of the UTC day containing `milliseconds`.
    static func appendDayStamp(_ milliseconds: Int64, to bytes: inout [UInt8]) {
        let date = civil(dayNumber: dayNumber(milliseconds))
        appendDigits(date.year, width: 4, to: &bytes)
        appendDigits(date.month, width: 2, to: &bytes)
        appendDigits(date.day, width: 2, to: &bytes)
    }

    /// "yyyymm" of the UTC month containing `milliseconds`.
    static func appendMonthStamp(_ milliseconds: Int64, to bytes: inout [UInt8]) {
        let date = civil(dayNumber: dayNumber(milliseconds))
        appendDigits(date.year, width: 4, to: &bytes)
        appendDigits(date.month, width: 2, to: &bytes)
    }

    /// "YYYY-MM-DD HH:MM:SS.mmm+00", a timestamptz literal PostgreSQL reads exactly.
    static func appendTimestamp(_ milliseconds: Int64, to bytes: inout [UInt8]) {
        let date = civil(dayNumber: dayNumber(milliseconds))
        let ofDay = millisecondOfDay(milliseconds)
        appendDigits(date.year, width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(date.month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(date.day, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        appendDigits(ofDay / 3_600_000, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(ofDay / 60000 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(ofDay / 1000 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(ofDay % 1000, width: 3, to: &bytes)
        bytes.append(contentsOf: "+00".utf8)
    }

    static func dayStamp(_ milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        appendDayStamp(milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func monthStamp(_ milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        appendMonthStamp(milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func timestamp(_ milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        appendTimestamp(milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decimal digits of a non-negative value, left-padded with zeros to `width`.
    static func appendDigits(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        for _ in digits.count..<max(width, digits.count) { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: digits.reversed())
    }
}
