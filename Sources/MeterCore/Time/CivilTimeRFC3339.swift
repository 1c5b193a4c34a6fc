// RFC 3339 timestamps ("2026-01-31T00:00:00Z") for Unix milliseconds, without Foundation.

extension CivilTime {
    /// Formats an instant as an RFC 3339 UTC timestamp such as `2026-01-31T00:00:00Z`.
    ///
    /// Fractional seconds are written as exactly three digits (`.123`, `.050`) and
    /// only when the millisecond is not zero. Years outside `0...9999`, which
    /// RFC 3339 cannot express, are written in the ISO 8601 expanded form with a
    /// sign (`-0001-…`, `+10000-…`); ``parseRFC3339(_:)`` does not accept those.
    public static func rfc3339(milliseconds: Int64) -> String {
        let fields = components(milliseconds: milliseconds)
        var text = ""
        text.reserveCapacity(24)
        if fields.year < 0 {
            text.append("-")
            appendPadded(-fields.year, width: 4, to: &text)
        } else if fields.year > 9_999 {
            text.append("+")
            appendPadded(fields.year, width: 4, to: &text)
        } else {
            appendPadded(fields.year, width: 4, to: &text)
        }
        text.append("-")
        appendPadded(Int64(fields.month), width: 2, to: &text)
        text.append("-")
        appendPadded(Int64(fields.day), width: 2, to: &text)
        text.append("T")
        appendPadded(Int64(fields.hour), width: 2, to: &text)
        text.append(":")
        appendPadded(Int64(fields.minute), width: 2, to: &text)
        text.append(":")
        appendPadded(Int64(fields.second), width: 2, to: &text)
        if fields.millisecond != 0 {
            text.append(".")
            appendPadded(Int64(fields.millisecond), width: 3, to: &text)
        }
        text.append("Z")
        return text
    }

    /// Parses an RFC 3339 `date-time` into Unix milliseconds, or returns `nil` when it is malformed or invalid.
    ///
    /// Accepted form: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`, with a
    /// four-digit year, `T`/`t` as separator and `Z`/`z` for UTC. The fraction
    /// needs at least one digit; digits beyond milliseconds are truncated (so the
    /// result never lies after the written instant). `-00:00` is treated as UTC.
    /// Rejected: impossible dates (February 30, February 29 of a common year,
    /// month 13), hour 24, minute or second 60 (leap seconds), offsets beyond
    /// 23:59, missing parts, spaces and any trailing text.
    public static func parseRFC3339(_ text: String) -> Int64? {
        var scanner = RFC3339Scanner(bytes: Array(text.utf8))
        guard
            let year = scanner.number(digitCount: 4), scanner.consume("-"),
            let month = scanner.number(digitCount: 2), scanner.consume("-"),
            let day = scanner.number(digitCount: 2), scanner.consume("T") || scanner.consume("t"),
            let hour = scanner.number(digitCount: 2), scanner.consume(":"),
            let minute = scanner.number(digitCount: 2), scanner.consume(":"),
            let second = scanner.number(digitCount: 2)
        else {
            return nil
        }
        var millisecond = 0
        if scanner.consume(".") {
            guard let fraction = scanner.fractionMilliseconds() else {
                return nil
            }
            millisecond = fraction
        }
        let offsetMinutes: Int
        if scanner.consume("Z") || scanner.consume("z") {
            offsetMinutes = 0
        } else {
            let sign: Int
            if scanner.consume("+") {
                sign = 1
            } else if scanner.consume("-") {
                sign = -1
            } else {
                return nil
            }
            guard
                let offsetHour = scanner.number(digitCount: 2), scanner.consume(":"),
                let offsetMinute = scanner.number(digitCount: 2),
                (0...23).contains(offsetHour), (0...59).contains(offsetMinute)
            else {
                return nil
            }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        }
        guard scanner.isAtEnd else {
            return nil
        }
        let fields = CivilDateTime(
            year: Int64(year), month: month, day: day,
            hour: hour, minute: minute, second: second, millisecond: millisecond
        )
        guard fields.isValid else {
            return nil
        }
        // Local time = UTC + offset, so UTC = local time - offset.
        return milliseconds(fields) - Int64(offsetMinutes) * millisecondsPerMinute
    }

    /// Appends the decimal digits of a non-negative `value`, left-padded with zeros to `width`.
    private static func appendPadded(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width {
            text.append(String(repeating: "0", count: width - digits.count))
        }
        text.append(digits)
    }
}

/// A cursor over the UTF-8 bytes of a timestamp being parsed.
private struct RFC3339Scanner {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position == bytes.count }

    /// Consumes `character` (ASCII) if it is next; returns whether it was.
    mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(character.value) else {
            return false
        }
        position += 1
        return true
    }

    /// Consumes exactly `digitCount` ASCII digits and returns their value.
    mutating func number(digitCount: Int) -> Int? {
        guard bytes.count - position >= digitCount else {
            return nil
        }
        var value = 0
        for offset in 0..<digitCount {
            guard let digit = Self.digitValue(bytes[position + offset]) else {
                return nil
            }
            value = value * 10 + digit
        }
        position += digitCount
        return value
    }

    /// Consumes one or more fraction digits and returns the first three as milliseconds (truncating the rest).
    mutating func fractionMilliseconds() -> Int? {
        var milliseconds = 0
        var digitCount = 0
        while position < bytes.count, let digit = Self.digitValue(bytes[position]) {
            if digitCount < 3 {
                milliseconds = milliseconds * 10 + digit
            }
            digitCount += 1
            position += 1
        }
        guard digitCount > 0 else {
            return nil
        }
        for _ in min(digitCount, 3)..<3 {
            milliseconds *= 10
        }
        return milliseconds
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        (0x30...0x39).contains(byte) ? Int(byte - 0x30) : nil
    }
}
