import MeterTestSupport
import XCTest
@testable import MeterLog

final class SegmentedLogTests: XCTestCase {
    func testEmptyLogCreatesFirstSegment() throws {
        let directory = try TemporaryDirectory(self)
        let (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 8192))
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(report.createdSegment, "log-00000000000000000001.wal")
        XCTAssertEqual(log.firstSequence, 1)
        XCTAssertEqual(log.lastSequence, 0)
        XCTAssertEqual(try directory.segmentNames(), ["log-00000000000000000001.wal"])
        // Created at full size (preallocated), header then zeros.
        let bytes = try readBytes(directory.file("log-00000000000000000001.wal"))
        XCTAssertEqual(bytes.count, 8192)
        XCTAssertEqual(Array(bytes[8..<12]), [2, 0, 0, 0], "format version 2")
        XCTAssertTrue(bytes[32...].allSatisfy { $0 == 0 })
        XCTAssertTrue(try readAll(log).isEmpty)
    }

    func testCreatesMissingDirectory() throws {
        let parent = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: parent.file("data"), options: LogOptions(segmentSizeBytes: 4096))
        log.close()
        XCTAssertEqual(try parent.names(), ["data"])
    }

    func testManyRecordsAcrossSegmentsReadBackAfterReopen() throws {
        let directory = try TemporaryDirectory(self)
        let options = LogOptions(segmentSizeBytes: 4096)
        let records = makeRecords(count: 600)
        var (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        var next = 0
        var batchSize = 1
        while next < records.count {
            let batch = Array(records[next..<min(records.count, next + batchSize)])
            let sequences = try log.append(batch)
            XCTAssertEqual(sequences, UInt64(next + 1)...UInt64(next + batch.count))
            next += batch.count
            batchSize = batchSize % 7 + 1
        }
        try log.sync()
        XCTAssertEqual(try recordsOf(log), records)
        log.close()

        let segmentNames = try directory.segmentNames()
        XCTAssertGreaterThan(segmentNames.count, 5)
        let report: RecoveryReport
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertNil(report.createdSegment)
        XCTAssertEqual(report.segmentCount, segmentNames.count)
        XCTAssertEqual(report.recordCount, 600)
        XCTAssertEqual(log.lastSequence, 600)
        XCTAssertEqual(try recordsOf(log), records)
        XCTAssertEqual(try readAll(log, from: 321).map(\.sequence), Array(321...600))
        XCTAssertEqual(try recordsOf(log, from: 321), Array(records[320...]))
        XCTAssertTrue(try readAll(log, from: 601).isEmpty)

        // Segment names carry each segment's first sequence, and appends continue the chain.
        let firstSequences = try segmentNames.map { name in
            try XCTUnwrap(SegmentName.firstSequence(of: name))
        }
        XCTAssertEqual(firstSequences.first, 1)
        XCTAssertEqual(firstSequences, firstSequences.sorted())
        XCTAssertEqual(try log.append(type: 5, payload: UnsafeRawBufferPointer(start: nil, count: 0)), 601)
        XCTAssertEqual(try recordsOf(log, from: 601), [LogRecord(type: 5, payload: [])])
    }

    func testAppendSingleRecordFromRawBuffer() throws {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        let payload: [UInt8] = [9, 8, 7]
        XCTAssertEqual(try payload.withUnsafeBytes { try log.append(type: 3, payload: $0) }, 1)
        XCTAssertEqual(try log.append([LogRecord(type: 4, payload: [1])]), 2...2)
        XCTAssertEqual(try recordsOf(log), [LogRecord(type: 3, payload: payload), LogRecord(type: 4, payload: [1])])
    }

    func testSealIsWrittenWhenRolling() throws {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions(segmentSizeBytes: 64))
        defer { log.close() }
        try log.append([LogRecord(type: 1, payload: Array(repeating: 1, count: 40))])  // 32 + 64 bytes: full
        try log.append([LogRecord(type: 1, payload: [2])])
        XCTAssertEqual(try directory.segmentNames(), ["log-00000000000000000001.wal", "log-00000000000000000002.wal"])
        let sealed = try readBytes(directory.file("log-00000000000000000001.wal"))
        XCTAssertEqual(sealed.count, 32 + 64 + 40)
        let seal = Array(sealed[96...])
        XCTAssertEqual(seal[4], 255, "seal type")
        XCTAssertEqual(seal[0], 16, "seal payload length")
        XCTAssertEqual(Array(seal[24..<32]), [1, 0, 0, 0, 0, 0, 0, 0], "record count")
        XCTAssertEqual(Array(seal[32..<40]), [1, 0, 0, 0, 0, 0, 0, 0], "last sequence")
        // The next header chains to the seal's checksum.
        let next = try readBytes(directory.file("log-00000000000000000002.wal"))
        XCTAssertEqual(Array(next[24..<28]), Array(seal[20..<24]))
    }

    /// A log in `directory` holding 100 records over many small segments: the log, the
    /// records, the segment names and each segment's first sequence.
    private func logAcrossSegments(_ directory: TemporaryDirectory, _ options: LogOptions) throws
        -> (SegmentedLog, [LogRecord], [String], [UInt64]) {
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: options)
        let records = makeRecords(count: 100, maximumPayloadByteCount: 60)
        for record in records { try log.append([record]) }
        let names = try directory.segmentNames()
        return (log, records, names, names.map { SegmentName.firstSequence(of: $0)! })
    }

    func testDeleteSegmentsRemovesOnlyWholeOldSegments() throws {
        let directory = try TemporaryDirectory(self)
        let options = LogOptions(segmentSizeBytes: 256)
        var (log, records, before, firstSequences) = try logAcrossSegments(directory, options)
        XCTAssertGreaterThan(before.count, 4)

        // Deleting before a segment's own first sequence keeps that segment.
        XCTAssertEqual(try log.deleteSegments(before: firstSequences[2] - 1), Array(before[0..<1]))
        XCTAssertEqual(try log.deleteSegments(before: firstSequences[2]), [before[1]])
        XCTAssertEqual(log.firstSequence, firstSequences[2])
        XCTAssertEqual(try directory.segmentNames(), Array(before[2...]))
        XCTAssertEqual(try readAll(log).first?.sequence, firstSequences[2])
        XCTAssertEqual(try recordsOf(log), Array(records[Int(firstSequences[2] - 1)...]))

        // Never the active segment.
        let deleted = try log.deleteSegments(before: .max)
        XCTAssertEqual(deleted, Array(before[2..<(before.count - 1)]))
        XCTAssertEqual(try directory.segmentNames(), [before.last!])
        XCTAssertEqual(log.firstSequence, firstSequences.last!)
        XCTAssertEqual(log.lastSequence, 100)
        log.close()

        let report: RecoveryReport
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(log.firstSequence, firstSequences.last!)
        XCTAssertEqual(try recordsOf(log), Array(records[Int(firstSequences.last! - 1)...]))
        XCTAssertEqual(try log.append([LogRecord(type: 1, payload: [])]), 101...101)
    }

    /// Detaching takes segments out of the log at once and leaves the files; `delete()` (on any
    /// thread) removes them. A crash part way through a delete leaves a shortened file under a
    /// `.deleting` name, never under a segment name: the next open deletes it and reads the rest.
    func testDetachedSegmentsStayOnDiskUntilDeletedAndAnInterruptedDeleteIsFinishedAtOpen() throws {
        let directory = try TemporaryDirectory(self)
        let options = LogOptions(segmentSizeBytes: 256)
        var (log, records, before, firstSequences) = try logAcrossSegments(directory, options)
        XCTAssertGreaterThan(before.count, 5)

        let detached = log.detachSegments(before: firstSequences[2])
        XCTAssertEqual(detached.names, Array(before[0..<2]))
        XCTAssertEqual(log.firstSequence, firstSequences[2], "the log forgets them at once")
        XCTAssertEqual(try directory.segmentNames(), before, "the files stay until delete()")
        XCTAssertEqual(try recordsOf(log), Array(records[Int(firstSequences[2] - 1)...]))
        let deleted = DispatchSemaphore(value: 0)
        let deleting = Thread {
            try! detached.delete()
            deleted.signal()
        }
        deleting.start()
        // The writer goes on meanwhile.
        try log.append([LogRecord(type: 1, payload: [7])])
        try log.sync()
        XCTAssertEqual(deleted.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(Array(try directory.segmentNames().prefix(before.count - 2)), Array(before[2...]))

        // A crash in the middle of deleting the next one: renamed, cut short, not yet unlinked.
        let interrupted = log.detachSegments(before: firstSequences[3])
        XCTAssertEqual(interrupted.names, [before[2]])
        log.close()
        let path = directory.file(before[2])
        XCTAssertEqual(rename(path, path + ".deleting"), 0)
        try truncateFile(path + ".deleting", to: 100)

        let report: RecoveryReport
        (log, report) = try SegmentedLog.open(directory: directory.path, options: options)
        defer { log.close() }
        XCTAssertTrue(report.isClean, "\(report)")
        XCTAssertFalse(try directory.names().contains { $0.hasSuffix(".deleting") }, "open deletes the leftover")
        XCTAssertEqual(log.firstSequence, firstSequences[3])
        XCTAssertEqual(try recordsOf(log).count, 100 - Int(firstSequences[3] - 1) + 1)
    }

    func testSecondOpenOfTheSameDirectoryIsRefused() throws {
        let directory = try TemporaryDirectory(self)
        let (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        XCTAssertThrowsError(try SegmentedLog.open(directory: directory.path, options: LogOptions())) { error in
            XCTAssertEqual(error as? LogError, .directoryLocked(path: directory.path))
        }
        log.close()
        let (again, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        again.close()
    }

    func testIgnoresUnrelatedFilesAndCopies() throws {
        let directory = try TemporaryDirectory(self)
        var (log, _) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        try log.append(makeRecords(count: 3))
        log.close()
        try writeBytes([1, 2, 3], to: directory.file("log-00000000000000000009.wal.torn-40"))
        try writeBytes([1, 2, 3], to: directory.file("notes.txt"))
        let report: RecoveryReport
        (log, report) = try SegmentedLog.open(directory: directory.path, options: LogOptions())
        defer { log.close() }
        XCTAssertTrue(report.isClean)
        XCTAssertEqual(try recordsOf(log), makeRecords(count: 3))
    }
}
