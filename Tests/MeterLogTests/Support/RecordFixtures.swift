@testable import MeterLog

/// Deterministic records of varied types and sizes (including empty and unaligned payloads).
func makeRecords(count: Int, startingAt first: Int = 0, maximumPayloadByteCount: Int = 300) -> [LogRecord] {
    (first..<(first + count)).map { index in
        let length = (index &* 37 &+ 11) % (maximumPayloadByteCount + 1)
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ index &* 7 &+ 1) }
        return LogRecord(type: UInt8(1 + index % 254), payload: payload)
    }
}

/// Every record of `log` from `sequence` on, with its sequence.
func readAll(_ log: SegmentedLog, from sequence: UInt64 = 1) throws -> [(sequence: UInt64, record: LogRecord)] {
    var records: [(UInt64, LogRecord)] = []
    try log.read(from: sequence) { records.append(($0, $1)) }
    return records
}

/// Just the records of `log` from `sequence` on, asserting their sequences are consecutive.
func recordsOf(_ log: SegmentedLog, from sequence: UInt64 = 1) throws -> [LogRecord] {
    let all = try readAll(log, from: sequence)
    for (index, entry) in all.enumerated() {
        precondition(entry.sequence == all[0].sequence + UInt64(index), "sequences must be consecutive")
    }
    return all.map(\.record)
}
