// Billing periods anchored at a subscription's anchor instant (UTC).

/// The length of a billing period, measured from a subscription's anchor instant.
///
/// Periods are half-open intervals `[start, end)` that tile the whole timeline,
/// before and after the anchor. Boundary `k` is the start of period `k`; the
/// anchor itself is boundary 0.
///
/// - `daily` and `weekly` step by exactly 86 400 000 and 604 800 000 milliseconds.
/// - `monthly`, `quarterly` and `annual` step by 1, 3 and 12 calendar months in UTC.
///   Boundary `k` is computed from the anchor directly (never chained from the
///   previous boundary): it keeps the anchor's time of day and the anchor's day of
///   month, clamped to the length of the target month. An anchor of January 31
///   10:00 gives February 28 (29 in leap years) 10:00, March 31 10:00,
///   April 30 10:00; an annual anchor of 2024-02-29 gives 2025-02-28 and 2028-02-29.
public enum BillingPeriod: String, CaseIterable, Sendable, Codable {
    /// One UTC day (86 400 000 ms) per period.
    case daily = "DAILY"
    /// Seven UTC days (604 800 000 ms) per period.
    case weekly = "WEEKLY"
    /// One calendar month per period.
    case monthly = "MONTHLY"
    /// Three calendar months per period.
    case quarterly = "QUARTERLY"
    /// Twelve calendar months per period.
    case annual = "ANNUAL"

    /// How one period advances: by a fixed number of milliseconds or by calendar months.
    private enum Step {
        case fixed(Int64)
        case months(Int64)
    }

    private var step: Step {
        switch self {
        case .daily: return .fixed(CivilTime.millisecondsPerDay)
        case .weekly: return .fixed(7 * CivilTime.millisecondsPerDay)
        case .monthly: return .months(1)
        case .quarterly: return .months(3)
        case .annual: return .months(12)
        }
    }

    /// The exact length of every period in milliseconds, or `nil` for calendar-month periods.
    public var fixedLengthMilliseconds: Int64? {
        if case .fixed(let length) = step { return length }
        return nil
    }

    /// The number of calendar months per period, or `nil` for fixed-length periods.
    public var monthsPerPeriod: Int64? {
        if case .months(let months) = step { return months }
        return nil
    }

    /// The start of period `index` (negative indexes lie before the anchor); index 0 is the anchor itself.
    ///
    /// Boundaries strictly increase with `index`. Traps if the result does not fit in `Int64`.
    public func boundary(index: Int64, anchorMilliseconds: Int64) -> Int64 {
        switch step {
        case .fixed(let length):
            return anchorMilliseconds + index * length
        case .months(let months):
            return CalendarAnchor(anchorMilliseconds).boundary(monthOffset: index * months)
        }
    }

    /// The index `k` of the period containing the instant: `boundary(k) <= instant < boundary(k + 1)`.
    ///
    /// Runs in constant time, however far the instant is from the anchor.
    public func periodIndex(containing instantMilliseconds: Int64, anchorMilliseconds: Int64) -> Int64 {
        switch step {
        case .fixed(let length):
            return CivilTime.floorDivide(instantMilliseconds - anchorMilliseconds, length)
        case .months(let months):
            return calendarPeriodIndex(
                containing: instantMilliseconds,
                anchor: CalendarAnchor(anchorMilliseconds),
                monthsPerPeriod: months
            )
        }
    }

    /// The period `[start, end)` that contains the instant, so `start <= instant < end`.
    ///
    /// An instant exactly on a boundary starts a new period (`start == instant`).
    /// Works for instants before or after the anchor and runs in constant time.
    public func periodBounds(
        containing instantMilliseconds: Int64,
        anchorMilliseconds: Int64
    ) -> (startMilliseconds: Int64, endMilliseconds: Int64) {
        switch step {
        case .fixed(let length):
            let index = CivilTime.floorDivide(instantMilliseconds - anchorMilliseconds, length)
            let start = anchorMilliseconds + index * length
            return (start, start + length)
        case .months(let months):
            let anchor = CalendarAnchor(anchorMilliseconds)
            let index = calendarPeriodIndex(containing: instantMilliseconds, anchor: anchor, monthsPerPeriod: months)
            return (anchor.boundary(monthOffset: index * months), anchor.boundary(monthOffset: (index + 1) * months))
        }
    }

    /// Finds the calendar period index from the month distance, then corrects it by at most one step.
    ///
    /// With `k = floor(monthDistance / monthsPerPeriod)`, boundary `k` lies in the
    /// instant's month or earlier, and boundary `k + 1` lies in a later month. So
    /// boundary `k + 1` is always after the instant, and boundary `k` is after it
    /// only when both share a month and the anchor's day or time of day is later,
    /// in which case boundary `k - 1` (at least one month earlier) is before it.
    private func calendarPeriodIndex(
        containing instantMilliseconds: Int64,
        anchor: CalendarAnchor,
        monthsPerPeriod months: Int64
    ) -> Int64 {
        let instant = CivilTime.components(milliseconds: instantMilliseconds)
        let monthDistance = CivilTime.monthIndex(year: instant.year, month: instant.month) - anchor.monthIndex
        var index = CivilTime.floorDivide(monthDistance, months)
        if anchor.boundary(monthOffset: index * months) > instantMilliseconds {
            index -= 1
        }
        return index
    }
}

/// The parts of an anchor instant that calendar-month boundaries are built from.
private struct CalendarAnchor {
    /// Months since January of year 0 of the anchor's month.
    let monthIndex: Int64
    /// The anchor's day of month, before clamping.
    let day: Int
    /// The anchor's millisecond of the UTC day.
    let millisecondOfDay: Int64

    init(_ anchorMilliseconds: Int64) {
        let fields = CivilTime.components(milliseconds: anchorMilliseconds)
        monthIndex = CivilTime.monthIndex(year: fields.year, month: fields.month)
        day = fields.day
        millisecondOfDay = CivilTime.millisecondOfDay(milliseconds: anchorMilliseconds)
    }

    /// The anchor moved by `monthOffset` calendar months, with the day clamped to the target month.
    func boundary(monthOffset: Int64) -> Int64 {
        let target = CivilTime.yearAndMonth(monthIndex: monthIndex + monthOffset)
        let clampedDay = min(day, CivilTime.daysInMonth(year: target.year, month: target.month))
        return CivilTime.days(year: target.year, month: target.month, day: clampedDay) * CivilTime.millisecondsPerDay
            + millisecondOfDay
    }
}
