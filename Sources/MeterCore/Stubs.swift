// TEMPORARY stubs until helpers deliver. Delete.
public struct ExactDecimal: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let scale = 9
    public static let maximumInputMagnitudeUnits: Int128 = 100_000_000_000_000_000_000_000_000_000
    public var units: Int128
    public init(units: Int128) { self.units = units }
    public init(_ integer: Int64) { units = Int128(integer) * 1_000_000_000 }
    public init(parsing text: some StringProtocol) throws(ExactDecimalError) { throw .empty }
    public var description: String { "\(units)" }
    public func multiplied(by other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal { self }
    public func divided(by divisor: Int64) -> ExactDecimal { self }
    public var isNegative: Bool { units < 0 }
    public var isZero: Bool { units == 0 }
    public static func < (a: Self, b: Self) -> Bool { a.units < b.units }
}
public enum ExactDecimalError: Error { case empty }
