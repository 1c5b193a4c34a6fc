import MeterTestSupport
import XCTest
@testable import MeterLog

/// Recovery across segments: damaged seals, missing segments, crashes while rolling.
final class SegmentedLogSegmentRecoveryTests: XCTestCase {
    private let options = LogOptions(segmentSizeBytes: 512)
    private let records = makeRecords(count: 60, maximumPayloadByteCount: 40)

    /// Writes `records` one append each into several small segments.
    private func writeSegments() throws -> (directory: TemporaryDirectory, segments: [String]) {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        for record in records { try log.append([record]) }
        try log.sync()
        log.close()
        let segments = try directory.segmentNames()
        XCTAssertGreaterThanOrEqual(segments.count, 3)
        return (directory, segments)
    }

    /// The sequence of the last record in `segment`, from the next segment's name.
    private func lastSequence(of index: Int, in segments: [String]) -> UInt64 {
        SegmentName.firstSequence(of: segments[index + 1])! - 1
    }

    func testBitFlipInASealedSegmentIsCorruptionEvenAtItsEnd() throws {
        let (directory, segments) = try writeSegments()
        let path = directory.file(segments[0])
        let original = try readBytes(path)
        let sealOffset = original.count - 40
        // The last data record (a valid seal follows) and the seal itself (later segments follow).
        for byteOffset in [sealOffset - 3, sealOffset + 2, sealOffset + 33] {
            var damaged = original
            damaged[byteOffset] ^= 0x04
            try writeBytes(damaged, to: path)
            XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
                guard case let .corruption(segment, offset, _) = error as? LogError else { return XCTFail("\(error)") }
                XCTAssertEqual(segment, segments[0])
                XCTAssertLessThanOrEqual(offset, Int64(sealOffset))
                XCTAssertGreaterThan(offset, Int64(sealOffset - 80))
            }
        }
        try writeBytes(original, to: path)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        log.close()
        XCTAssertTrue(report.isClean)
    }

    func testRepairOfASealedSegmentSetsLaterSegmentsAside() throws {
        let (directory, segments) = try writeSegments()
        let path = directory.file(segments[0])
        var damaged = try readBytes(path)
        let sealOffset = damaged.count - 40
        damaged[sealOffset + 30] ^= 0x01
        try writeBytes(damaged, to: path)

        var (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 512, repair: true))
        XCTAssertEqual(report.repairs.first?.segment, segments[0])
        XCTAssertEqual(report.repairs.first?.offset, Int64(sealOffset))
        XCTAssertEqual(report.repairs.dropFirst().map(\.segment), Array(segments[1...]))
        XCTAssertEqual(report.repairs.dropFirst().map(\.copy), segments[1...].map { $0 + ".corrupt-0" })
        XCTAssertEqual(try directory.segmentNames(), [segments[0]])
        let kept = lastSequence(of: 0, in: segments)
        XCTAssertEqual(log.lastSequence, kept)
        XCTAssertEqual(try recordsOf(log), Array(records[0..<Int(kept)]))
        // Appending refills the log past the set-aside names without clashing.
        for record in records[Int(kept)...] { try log.append([record]) }
        log.close()
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), records)
    }

    func testMissingSealIsCorruption() throws {
        let (directory, segments) = try writeSegments()
        let path = directory.file(segments[1])
        try truncateFile(path, to: try fileSize(path) - 40)
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
            guard case let .corruption(segment, _, reason) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(segment, segments[1])
            XCTAssertTrue(reason.contains("not sealed"), reason)
        }
    }

    func testMissingMiddleSegmentIsCorruption() throws {
        let (directory, segments) = try writeSegments()
        try FileManager.default.removeItem(atPath: directory.file(segments[1]))
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
            guard case let .corruption(segment, offset, reason) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(segment, segments[2])
            XCTAssertEqual(offset, 0)
            XCTAssertTrue(reason.contains("ends at"), reason)
        }
    }

    func testCrashAfterSealingBeforeTheNextSegmentExisted() throws {
        let (directory, segments) = try writeSegments()
        for name in segments[1...] { try FileManager.default.removeItem(atPath: directory.file(name)) }
        var (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(report.createdSegment, segments[1])
        let kept = lastSequence(of: 0, in: segments)
        XCTAssertEqual(log.lastSequence, kept)
        for record in records[Int(kept)...] { try log.append([record]) }
        log.close()
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), records)
    }

    func testTornHeaderOfTheNewestSegmentIsSetAside() throws {
        for length in [0, 7, 31] {
            let (directory, segments) = try writeSegments()
            let newest = segments[segments.count - 1]
            try truncateFile(directory.file(newest), to: length)
            let (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
            defer { log.close() }
            XCTAssertEqual(report.tornTail?.segment, newest)
            XCTAssertEqual(report.tornTail?.offset, 0)
            XCTAssertEqual(report.tornTail?.byteCount, Int64(length))
            XCTAssertEqual(report.tornTail?.copy, newest + ".torn-0")
            XCTAssertEqual(report.createdSegment, newest)
            let kept = lastSequence(of: segments.count - 2, in: segments)
            XCTAssertEqual(log.lastSequence, kept)
            XCTAssertEqual(try log.append([records[0]]), (kept + 1)...(kept + 1))
        }
    }

    func testDamagedHeaderWithRecordsAfterItIsCorruption() throws {
        let (directory, segments) = try writeSegments()
        let newest = directory.file(segments[segments.count - 1])
        var bytes = try readBytes(newest)
        bytes[20] ^= 0x01
        try writeBytes(bytes, to: newest)
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: options)) { error in
            guard case let .corruption(segment, offset, _) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertEqual(segment, segments[segments.count - 1])
            XCTAssertEqual(offset, 0)
        }
    }
}
