import MeterTestSupport
import XCTest
@testable import MeterLog

/// Torn tails versus corruption, in the manner of etcd's TestRepairWriteTearLast and
/// TestRepairWriteTearMiddle: damage files on disk, reopen, check what recovery decided.
final class SegmentedLogRecoveryTests: XCTestCase {
    private let firstSegment = "log-00000000000000000001.wal"
    /// Small preallocated segments keep the hundreds of opens below fast.
    private let segmentByteCount = 4096
    private var options: LogOptions { LogOptions(segmentSizeBytes: segmentByteCount) }

    /// Five records in one segment; the last has 13 payload bytes (3 of padding).
    private let records = makeRecords(count: 4, maximumPayloadByteCount: 50) + [LogRecord(type: 200, payload: Array(1...13))]

    /// Writes `records`, one append each, into a single segment and returns the segment's
    /// bytes and the offset of each frame followed by the end offset.
    private func writeSingleSegment() throws -> (bytes: [UInt8], offsets: [Int]) {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        var offsets = [32]
        for record in records {
            try log.append([record])
            offsets.append(offsets[offsets.count - 1] + LogFormat.frameByteCount(payloadByteCount: record.payload.count))
        }
        try log.sync()
        log.close()
        // A clean close gives the preallocated space back: the file ends at the last record.
        XCTAssertEqual(try fileSize(directory.file(firstSegment)), offsets[offsets.count - 1])
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
            var (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
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
            // Cut at the last good record, then zero-filled again to the segment size.
            let kept = try readBytes(directory.file(firstSegment))
            XCTAssertEqual(kept.count, segmentByteCount)
            XCTAssertEqual(Array(kept[0..<lastStart]), Array(original[0..<lastStart]))
            XCTAssertTrue(kept[lastStart...].allSatisfy { $0 == 0 })
            XCTAssertEqual(log.lastSequence, 4)
            XCTAssertEqual(try recordsOf(log), Array(records[0..<4]))

            // The log carries on from the last good record.
            XCTAssertEqual(try log.append([records[4]]), 5...5)
            log.close()
            XCTAssertEqual(try readBytes(directory.file(firstSegment)), original)
            (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
            XCTAssertTrue(report.isClean)
            XCTAssertEqual(try recordsOf(log), records)
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
                let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
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
                XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
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
        var (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: segmentByteCount, repair: true))
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

        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), Array(records[0..<3]))
    }

    func testZerosAfterTheLastRecordAreTheCleanEndOfAPreallocatedSegment() throws {
        let (original, _) = try writeSingleSegment()
        for zeroByteCount in [1, 7, 24, 4096 - original.count, 3 * 4096] {
            let directory = try directory(holding: original + [UInt8](repeating: 0, count: zeroByteCount))
            let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
            defer { log.close() }
            XCTAssertTrue(report.isClean, "\(zeroByteCount) zeros: \(report)")
            XCTAssertTrue(report.damage.isEmpty)
            XCTAssertEqual(try recordsOf(log), records)
            XCTAssertEqual(try directory.names().filter { $0.contains(".torn") || $0.contains(".corrupt") }, [])
        }
    }

    func testTornRecordFollowedByZerosIsATornTail() throws {
        // A crash mid-append in a preallocated file: half the last frame, then the zeros.
        let (original, offsets) = try writeSingleSegment()
        let halfway = offsets[4] + 20
        let damaged = Array(original[0..<halfway]) + [UInt8](repeating: 0, count: segmentByteCount - halfway)
        let directory = try directory(holding: damaged)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        let torn = try XCTUnwrap(report.tornTail)
        XCTAssertEqual(torn.offset, Int64(offsets[4]))
        // The copy keeps the damaged bytes, not the whole preallocated rest of the file.
        XCTAssertEqual(try readBytes(directory.file(torn.copy)), Array(damaged[offsets[4]..<segmentByteCount]))
        XCTAssertEqual(report.damage.first?.firstLostSequence, 5)
        XCTAssertEqual(try recordsOf(log), Array(records[0..<4]))
    }

    func testGarbageAfterTheLastRecordIsATornTail() throws {
        let (original, offsets) = try writeSingleSegment()
        var damaged = original + [UInt8](repeating: 0, count: segmentByteCount - original.count)
        damaged[offsets[5] + 100] = 0x5A
        let directory = try directory(holding: damaged)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        let torn = try XCTUnwrap(report.tornTail)
        XCTAssertEqual(torn.offset, Int64(offsets[5]))
        XCTAssertEqual(report.damage.first?.lastValidSequence, 5)
        XCTAssertEqual(try recordsOf(log), records)
    }

    func testZeroedLastRecordOfAVersion1SegmentIsStillTorn() throws {
        // Version 1 segments were never preallocated: zeros after their last record are what a
        // crash after the file grew leaves, and stay a torn tail.
        let (original, _) = try writeSingleSegment()
        var version1 = original
        rewriteHeader(&version1, version: 1)
        let directory = try directory(holding: version1 + [UInt8](repeating: 0, count: 4096))
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
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
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertEqual(report.tornTail?.offset, Int64(offsets[4]))
        XCTAssertEqual(log.lastSequence, 4)
    }

    func testStaleValidFrameAtTheTailIsCorruption() throws {
        // A self-valid frame that is out of sequence cannot come from a torn write.
        let (original, offsets) = try writeSingleSegment()
        let directory = try directory(holding: original + Array(original[offsets[1]..<offsets[2]]))
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
            guard case let .corruption(_, offset, reason) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, Int64(original.count))
            XCTAssertTrue(reason.contains("does not chain"), reason)
        }
    }

    func testTornHeaderOfABrandNewLogIsRecreated() throws {
        let directory = try directory(holding: [0x4D, 0x54, 0x52])
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertEqual(report.tornTail?.copy, firstSegment + ".torn-0")
        XCTAssertEqual(report.createdSegment, firstSegment)
        XCTAssertEqual(log.lastSequence, 0)
        XCTAssertEqual(try log.append(records), 1...5)
    }

    /// Rewrites the segment header at the start of `bytes` with `version` and a matching checksum.
    private func rewriteHeader(_ bytes: inout [UInt8], version: UInt32) {
        var header = SegmentHeader.decode(bytes.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<32]) })
        guard case var .success(decoded) = header else { return XCTFail("header \(header)") }
        decoded.version = version
        header = .success(decoded)
        bytes.replaceSubrange(0..<32, with: decoded.encoded())
    }
}
