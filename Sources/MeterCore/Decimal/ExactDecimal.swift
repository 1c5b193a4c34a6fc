/// A fixed-point, exact decimal number for money-grade metering.
///
/// The value is stored as a signed 128-bit count of billionths (`units == value × 10^9`), so every
/// value has exactly ``scale`` (9) fractional digits and no binary floating point is ever involved.
///
/// Range:
/// - Storage covers `Int128.min ... Int128.max` units, i.e. roughly ±1.7 × 10^29.
/// - Text accepted from events and meter definitions (``init(parsing:)``) is limited to
///   `|value| < 10^20` (at most 20 integer digits, see ``maximumInputMagnitudeUnits``), which leaves
///   ample headroom for sums of many inputs before ``ExactDecimalError/overflow`` can occur.
///
/// Arithmetic never wraps: ``adding(_:)``, ``subtracting(_:)`` and ``multiplied(by:)`` throw
/// ``ExactDecimalError/overflow`` instead. Rounding (multiplication and division) is half-to-even.
public struct ExactDecimal: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Number of fractional decimal digits carried by every value. Fixed.
    public static let scale: Int = 9

    /// Number of ``units`` that make up the value one (`10^scale`).
    public static let unitsPerOne: Int128 = 1_000_000_000

    /// Largest magnitude accepted from an event or a meter definition: values must satisfy
    /// `|value| < 10^20` (20 integer digits), i.e. `|units| < 10^29`. This bound is exclusive.
    public static let maximumInputMagnitudeUnits: Int128 = 100_000_000_000_000_000_000_000_000_000

    /// The value zero.
    public static let zero = ExactDecimal(units: 0)

    /// The value multiplied by `10^9` (the count of billionths).
    public var units: Int128

    /// Creates a value from a raw count of billionths (`units == value × 10^9`).
    public init(units: Int128) {
        self.units = units
    }

    /// Creates a value equal to the given integer. Always exact: `Int64` times `10^9` fits in `Int128`.
    public init(_ integer: Int64) {
        self.units = Int128(integer) * Self.unitsPerOne
    }

    /// Whether the value is strictly less than zero.
    public var isNegative: Bool { units < 0 }

    /// Whether the value is exactly zero.
    public var isZero: Bool { units == 0 }

    /// Orders values numerically.
    public static func < (left: ExactDecimal, right: ExactDecimal) -> Bool {
        left.units < right.units
    }

    /// Canonical text: `"0"`, `"12"`, `"-0.5"`, `"1234.000000001"`.
    ///
    /// No exponent, no leading `+`, no leading zeros besides a single `0` before the point, and no
    /// trailing fractional zeros (no point at all for integers). Every value with `|value| < 10^20`
    /// round-trips through ``init(parsing:)``; larger values (only reachable via arithmetic) are
    /// printed exactly but are rejected by the parser as ``ExactDecimalError/outOfRange``.
    public var description: String {
        let magnitude = units.magnitude
        let integerPart = magnitude / UInt128(Self.unitsPerOne)
        var fraction = UInt64(truncatingIfNeeded: magnitude % UInt128(Self.unitsPerOne))
        // Longest text: "-" + 30 integer digits + "." + 9 fractional digits = 41 bytes.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buffer in
            var start = buffer.count
            func write(_ number: UInt64, minimumDigits: Int) {
                var remaining = number
                var written = 0
                repeat {
                    start -= 1
                    buffer[start] = UInt8(truncatingIfNeeded: remaining % 10) &+ UInt8(ascii: "0")
                    remaining /= 10
                    written += 1
                } while remaining != 0 || written < minimumDigits
            }
            if fraction != 0 {
                var fractionDigitCount = Self.scale
                while fraction % 10 == 0 {
                    fraction /= 10
                    fractionDigitCount -= 1
                }
                write(fraction, minimumDigits: fractionDigitCount)
                start -= 1
                buffer[start] = UInt8(ascii: ".")
            }
            // The integer part is below 2^128 / 10^9 < 10^30, so it splits into two UInt64 halves.
            let lowerDigitsModulus: UInt128 = 10_000_000_000_000_000_000  // 10^19
            let upper = UInt64(truncatingIfNeeded: integerPart / lowerDigitsModulus)
            let lower = UInt64(truncatingIfNeeded: integerPart % lowerDigitsModulus)
            if upper != 0 {
                write(lower, minimumDigits: 19)
                write(upper, minimumDigits: 1)
            } else {
                write(lower, minimumDigits: 1)
            }
            if units < 0 {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start...]), as: UTF8.self)
        }
    }
}

/// Errors raised when parsing text into an ``ExactDecimal`` or when exact arithmetic cannot be
/// represented.
public enum ExactDecimalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input text was empty.
    case empty
    /// A byte that can never occur in a decimal number (anything other than `0-9 + - . e E`) was
    /// found at this zero-based UTF-8 byte offset.
    case invalidCharacter(position: Int)
    /// The characters are all legal, but they do not form a decimal number
    /// (for example `"."`, `"-"`, `"e5"`, `"1e"`, `"1.2.3"`, `"--1"`).
    case malformed
    /// The number needs more than 9 fractional digits to be represented exactly.
    case tooManyFractionDigits
    /// The parsed magnitude is `10^20` or more.
    case outOfRange
    /// An arithmetic result does not fit in the 128-bit representation.
    case overflow

    /// A human-readable explanation of the error.
    public var description: String {
        switch self {
        case .empty:
            return "decimal text is empty"
        case .invalidCharacter(let position):
            return "decimal text has an invalid character at byte offset \(position)"
        case .malformed:
            return "decimal text is not a well-formed number"
        case .tooManyFractionDigits:
            return "decimal has more than \(ExactDecimal.scale) fractional digits"
        case .outOfRange:
            return "decimal magnitude must be less than 10^20"
        case .overflow:
            return "decimal arithmetic overflowed"
        }
    }
}
