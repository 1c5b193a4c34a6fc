// Aggregation windows aligned to the UTC calendar.

/// The size of an aggregation window used to bucket usage events.
///
/// Windows are half-open intervals `[start, end)` that tile the timeline and are
/// aligned independently of any subscription:
/// - fixed sizes up to `day` are aligned to the Unix epoch, so every window starts
///   at a multiple of its length (`day` starts at 00:00 UTC, `threeHours` at
///   00:00, 03:00, … UTC);
/// - `week` starts on Monday 00:00 UTC (ISO 8601 weeks);
/// - `month` is the UTC calendar month, starting on the 1st at 00:00 UTC.
public enum WindowSize: String, CaseIterable, Sendable, Codable {
    /// One minute.
    case minute = "MINUTE"
    /// Fifteen minutes, starting at :00, :15, :30 and :45.
    case fifteenMinutes = "15MIN"
    /// Thirty minutes, starting at :00 and :30.
    case thirtyMinutes = "30MIN"
    /// One hour.
    case hour = "HOUR"
    /// Three hours, starting at 00:00, 03:00, … UTC.
    case threeHours = "3HOUR"
    /// Six hours, starting at 00:00, 06:00, 12:00 and 18:00 UTC.
    case sixHours = "6HOUR"
    /// Twelve hours, starting at 00:00 and 12:00 UTC.
    case twelveHours = "12HOUR"
    /// One UTC day, starting at 00:00 UTC.
    case day = "DAY"
    /// One ISO week, starting on Monday 00:00 UTC.
    case week = "WEEK"
    /// One UTC calendar month, starting on the 1st at 00:00 UTC.
    case month = "MONTH"

    /// 1970-01-05 (the first Monday after the epoch, which was a Thursday) in milliseconds.
    private static let firstMondayMilliseconds: Int64 = 4 * CivilTime.millisecondsPerDay

    /// The exact length of every window in milliseconds, or `nil` for `month`, whose length varies.
    public var fixedLengthMilliseconds: Int64? {
        switch self {
        case .minute: return CivilTime.millisecondsPerMinute
        case .fifteenMinutes: return 15 * CivilTime.millisecondsPerMinute
        case .thirtyMinutes: return 30 * CivilTime.millisecondsPerMinute
        case .hour: return CivilTime.millisecondsPerHour
        case .threeHours: return 3 * CivilTime.millisecondsPerHour
        case .sixHours: return 6 * CivilTime.millisecondsPerHour
        case .twelveHours: return 12 * CivilTime.millisecondsPerHour
        case .day: return CivilTime.millisecondsPerDay
        case .week: return 7 * CivilTime.millisecondsPerDay
        case .month: return nil
        }
    }

    /// The start of the window containing the instant: the latest boundary at or before it.
    public func windowStart(containing instantMilliseconds: Int64) -> Int64 {
        guard let length = fixedLengthMilliseconds else {  // month
            let fields = CivilTime.components(milliseconds: instantMilliseconds)
            return CivilTime.days(year: fields.year, month: fields.month, day: 1) * CivilTime.millisecondsPerDay
        }
        let origin = self == .week ? Self.firstMondayMilliseconds : 0
        return CivilTime.floorDivide(instantMilliseconds - origin, length) * length + origin
    }

    /// The end of the window that starts at `startMilliseconds`: the next boundary strictly after it.
    ///
    /// For an aligned start this is `start + length` (or the 1st of the next month
    /// for `month`). An unaligned start is treated as an instant inside its window,
    /// so the result is still a boundary and always greater than `startMilliseconds`.
    public func windowEnd(startingAt startMilliseconds: Int64) -> Int64 {
        let start = windowStart(containing: startMilliseconds)
        if let length = fixedLengthMilliseconds {
            return start + length
        }
        let fields = CivilTime.components(milliseconds: start)
        return CivilTime.days(year: fields.year, month: fields.month + 1, day: 1) * CivilTime.millisecondsPerDay
    }
}
