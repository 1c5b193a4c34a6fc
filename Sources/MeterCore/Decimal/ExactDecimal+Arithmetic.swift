/// Exact arithmetic. Nothing wraps around: results that do not fit throw `.overflow`.
extension ExactDecimal {
    /// Returns `self + other` exactly.
    /// - Throws: ``ExactDecimalError/overflow`` if the sum does not fit in `Int128` units.
    public func adding(_ other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        let (sum, overflowed) = units.addingReportingOverflow(other.units)
        if overflowed { throw .overflow }
        return ExactDecimal(units: sum)
    }

    /// Returns `self - other` exactly.
    /// - Throws: ``ExactDecimalError/overflow`` if the difference does not fit in `Int128` units.
    public func subtracting(_ other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        let (difference, overflowed) = units.subtractingReportingOverflow(other.units)
        if overflowed { throw .overflow }
        return ExactDecimal(units: difference)
    }

    /// Returns `self × other`, rounded half-to-even to 9 fractional digits.
    ///
    /// The full 256-bit product of the unit counts is divided by `10^9` with remainder, so the result
    /// is correct for every pair of `Int128` operands. Rounding works on the magnitude, which makes it
    /// symmetric: `0.000000001 × 0.5` rounds to `0`, `0.000000003 × 0.5` to `0.000000002`, and the
    /// negated operands give the negated results.
    /// - Throws: ``ExactDecimalError/overflow`` if the rounded product does not fit in `Int128` units.
    public func multiplied(by other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        let product = units.magnitude.multipliedFullWidth(by: other.units.magnitude)
        // Long division of the four 64-bit limbs (most significant first) by 10^9. Each step divides a
        // 128-bit value whose upper half (the running remainder) is below the divisor, so it cannot trap.
        let divisor = UInt64(Self.unitsPerOne)
        var remainder: UInt64 = 0
        var quotientLimbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        (quotientLimbs.0, remainder) = divisor.dividingFullWidth(
            (high: remainder, low: UInt64(truncatingIfNeeded: product.high >> 64)))
        (quotientLimbs.1, remainder) = divisor.dividingFullWidth(
            (high: remainder, low: UInt64(truncatingIfNeeded: product.high)))
        (quotientLimbs.2, remainder) = divisor.dividingFullWidth(
            (high: remainder, low: UInt64(truncatingIfNeeded: product.low >> 64)))
        (quotientLimbs.3, remainder) = divisor.dividingFullWidth(
            (high: remainder, low: UInt64(truncatingIfNeeded: product.low)))
        if quotientLimbs.0 != 0 || quotientLimbs.1 != 0 { throw .overflow }
        var quotient = UInt128(quotientLimbs.2) << 64 | UInt128(quotientLimbs.3)
        let half = divisor / 2
        if remainder > half || (remainder == half && quotient & 1 == 1) {
            if quotient == UInt128.max { throw .overflow }
            quotient += 1
        }
        return try Self.signed(magnitude: quotient, isNegative: (units < 0) != (other.units < 0))
    }

    /// Returns `self ÷ divisor`, rounded half-to-even to 9 fractional digits (used for averages:
    /// sum ÷ count). The result always fits, so this never throws.
    /// - Precondition: `divisor > 0`.
    public func divided(by divisor: Int64) -> ExactDecimal {
        precondition(divisor > 0, "ExactDecimal.divided(by:) requires a positive divisor")
        let divisorMagnitude = UInt128(divisor)
        var (quotient, remainder) = units.magnitude.quotientAndRemainder(dividingBy: divisorMagnitude)
        // remainder < divisor <= 2^63, so doubling it cannot overflow.
        let twiceRemainder = remainder << 1
        if twiceRemainder > divisorMagnitude || (twiceRemainder == divisorMagnitude && quotient & 1 == 1) {
            quotient += 1
        }
        // quotient <= 2^127, reached only for Int128.min ÷ 1, where the negation below wraps back to it.
        let value = Int128(truncatingIfNeeded: quotient)
        return ExactDecimal(units: units < 0 ? 0 &- value : value)
    }

    /// Applies a sign to a magnitude, throwing if the result is outside `Int128`.
    private static func signed(magnitude: UInt128, isNegative: Bool) throws(ExactDecimalError) -> ExactDecimal {
        if isNegative {
            if magnitude > Int128.min.magnitude { throw .overflow }
            return ExactDecimal(units: 0 &- Int128(truncatingIfNeeded: magnitude))
        }
        if magnitude > UInt128(Int128.max) { throw .overflow }
        return ExactDecimal(units: Int128(magnitude))
    }
}
