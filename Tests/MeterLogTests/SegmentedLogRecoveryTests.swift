import XCTest
@testable import MeterLog

/// Torn tails versus corruption, in the manner of etcd's TestRepairWriteTearLast and
/// TestRepairWriteTearMiddle: damage files on disk, reopen, check what recovery decided.
final class SegmentedLogRecoveryTests: XCTestCase {
    private let firstSegment = "log-00000000000000000001.wal"

    /// Five records in one segment; the last has 13 payload bytes (3 of padding).
    private let records = makeRecords(count: 4, maximumPayloadByteCount: 50) + [LogRecord(type: 200, payload: Array(1...13))]

    /// Writes `records`, one append each, into a single segment and returns the segment's
    /// bytes and the offset of each frame followed by the end offset.
    private func writeSingleSegment() throws -> (bytes: [UInt8], offsets: [Int]) {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        var offsets = [32]
        for record in records {
            try log.append([record])
            offsets.append(try fileSize(directory.file(firstSegment)))
        }
        try log.sync()
        log.close()
        return (try readBytes(directory.file(firstSegment)), offsets)
    }

    /// A new directory whose only segment holds `bytes`.
    private func directory(holding bytes: [UInt8]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(self)
        try writeBytes(bytes, to: directory.file(firstSegment))
        return directory
    }

    func testEveryTruncationOfTheLastRecordIsATornTail() throws {
        let (original, offsets) = try writeSingleSegment()
        let lastStart = offsets[4]
        let end = offsets[5]
        XCTAssertEqual(end - lastStart, 24 + 16)
        for length in lastStart..<end {
            let directory = try directory(holding: Array(original[0..<length]))
            var (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
            if length == lastStart {
                XCTAssertTrue(report.isClean)
            } else {
                let torn = try XCTUnwrap(report.tornTail, "length \(length)")
                XCTAssertEqual(torn.segment, firstSegment)
                XCTAssertEqual(torn.offset, Int64(lastStart))
                XCTAssertEqual(torn.byteCount, Int64(length - lastStart))
                XCTAssertEqual(torn.copy, "\(firstSegment).torn-\(lastStart)")
                XCTAssertEqual(try readBytes(directory.file(torn.copy)), Array(original[lastStart..<length]))
                XCTAssertTrue(report.repairs.isEmpty)
            }
            XCTAssertEqual(try fileSize(directory.file(firstSegment)), lastStart)
            XCTAssertEqual(log.lastSequence, 4)
            XCTAssertEqual(try recordsOf(log), Array(records[0..<4]))

            // The log carries on from the last good record.
            XCTAssertEqual(try log.append([records[4]]), 5...5)
            log.close()
            (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
            XCTAssertTrue(report.isClean)
            XCTAssertEqual(try recordsOf(log), records)
            XCTAssertEqual(try readBytes(directory.file(firstSegment)), original)
            log.close()
        }
    }

    func testEveryBitFlipInTheLastRecordIsATornTail() throws {
        let (original, offsets) = try writeSingleSegment()
        let lastStart = offsets[4]
        for byteOffset in lastStart..<offsets[5] {
            for bit in 0..<8 {
                var damaged = original
                damaged[byteOffset] ^= 1 << bit
                let directory = try directory(holding: damaged)
                let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
                defer { log.close() }
                let torn = try XCTUnwrap(report.tornTail, "byte \(byteOffset) bit \(bit)")
                XCTAssertEqual(torn.offset, Int64(lastStart))
                XCTAssertEqual(torn.byteCount, Int64(original.count - lastStart))
                XCTAssertEqual(try readBytes(directory.file(torn.copy)), Array(damaged[lastStart...]))
                XCTAssertEqual(log.lastSequence, 4)
                XCTAssertEqual(try recordsOf(log), Array(records[0..<4]))
            }
        }
    }

    func testEveryBitFlipInAMiddleRecordIsCorruption() throws {
        let (original, offsets) = try writeSingleSegment()
        let middleStart = offsets[2]
        for byteOffset in middleStart..<offsets[3] {
            for bit in 0..<8 {
                var damaged = original
                damaged[byteOffset] ^= 1 << bit
                let directory = try directory(holding: damaged)
                XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: LogOptions())) { error in
                    guard case let .corruption(segment, offset, reason) = error as? LogError else {
                        return XCTFail("byte \(byteOffset) bit \(bit): \(error)")
                    }
                    XCTAssertEqual(segment, firstSegment)
                    XCTAssertEqual(offset, Int64(middleStart))
                    XCTAssertTrue(reason.contains("a valid frame with sequence 4 follows at offset \(offsets[3])"), reason)
                }
                // Nothing was changed or copied.
                XCTAssertEqual(try directory.names(), [firstSegment])
                XCTAssertEqual(try readBytes(directory.file(firstSegment)), damaged)
            }
        }
    }

    func testRepairTruncatesAtMiddleCorruptionAndKeepsACopy() throws {
        let (original, offsets) = try writeSingleSegment()
        var damaged = original
        damaged[offsets[2] + 30] ^= 0x10
        let directory = try directory(holding: damaged)
        var (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(repair: true))
        XCTAssertFalse(report.isClean)
        XCTAssertNil(report.tornTail)
        XCTAssertEqual(report.repairs.count, 1)
        let repair = report.repairs[0]
        XCTAssertEqual(repair.segment, firstSegment)
        XCTAssertEqual(repair.offset, Int64(offsets[2]))
        XCTAssertEqual(repair.byteCount, Int64(original.count - offsets[2]))
        XCTAssertEqual(repair.copy, "\(firstSegment).corrupt-\(offsets[2])")
        XCTAssertTrue(repair.reason.contains("checksum mismatch"), repair.reason)
        XCTAssertTrue(report.description.contains("REPAIRED CORRUPTION"))
        XCTAssertEqual(try readBytes(directory.file(repair.copy)), Array(damaged[offsets[2]...]))
        XCTAssertEqual(log.lastSequence, 2)
        XCTAssertEqual(try recordsOf(log), Array(records[0..<2]))
        XCTAssertEqual(try log.append([records[2]]), 3...3)
        log.close()

        (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), Array(records[0..<3]))
    }

    func testZeroFilledTailIsTorn() throws {
        let (original, _) = try writeSingleSegment()
        let directory = try directory(holding: original + [UInt8](repeating: 0, count: 4096))
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        XCTAssertEqual(report.tornTail?.offset, Int64(original.count))
        XCTAssertEqual(report.tornTail?.byteCount, 4096)
        XCTAssertTrue(report.tornTail?.reason.contains("type 0") ?? false)
        XCTAssertEqual(try recordsOf(log), records)
    }

    func testPartlyZeroedLastRecordIsTorn() throws {
        // A write whose later sector never reached the disk.
        let (original, offsets) = try writeSingleSegment()
        var damaged = original
        for index in (offsets[4] + 24)..<offsets[5] { damaged[index] = 0 }
        let directory = try directory(holding: damaged)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        XCTAssertEqual(report.tornTail?.offset, Int64(offsets[4]))
        XCTAssertEqual(log.lastSequence, 4)
    }

    func testStaleValidFrameAtTheTailIsCorruption() throws {
        // A self-valid frame that is out of sequence cannot come from a torn write.
        let (original, offsets) = try writeSingleSegment()
        let directory = try directory(holding: original + Array(original[offsets[1]..<offsets[2]]))
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: LogOptions())) { error in
            guard case let .corruption(_, offset, reason) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, Int64(original.count))
            XCTAssertTrue(reason.contains("does not chain"), reason)
        }
    }

    func testTornHeaderOfABrandNewLogIsRecreated() throws {
        let directory = try directory(holding: [0x4D, 0x54, 0x52])
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        XCTAssertEqual(report.tornTail?.copy, firstSegment + ".torn-0")
        XCTAssertEqual(report.createdSegment, firstSegment)
        XCTAssertEqual(log.lastSequence, 0)
        XCTAssertEqual(try log.append(records), 1...5)
    }
}
