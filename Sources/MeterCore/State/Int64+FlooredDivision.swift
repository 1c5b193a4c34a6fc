extension Int64 {
    /// Division rounding towards negative infinity, so instants before 1970 land in the right bucket.
    @inline(__always)
    func flooredDivision(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
