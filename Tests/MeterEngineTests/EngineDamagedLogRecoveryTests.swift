import Foundation
import MeterCore
import MeterEngine
import MeterLog
import XCTest

/// Real data directories with a flipped byte, opened by the real engine: recovery must use a
/// snapshot that covers the damage, say what it did (segment and offset), decide before it
/// changes anything, and leave a directory that opens again in every mode.
final class EngineDamagedLogRecoveryTests: XCTestCase {
    func testAFlippedByteInTheLastRecordAfterACleanShutdownKeepsTheWholeState() async throws {
        let directory = DataDirectory(self)
        try await writeMeterAndBatches(directory, batches: 5)
        let segment = try newestSegment(directory)
        let frames = try SegmentFrames(path: directory.path + "/" + segment)
        let last = try XCTUnwrap(frames.offsets.last)
        try flipByte(directory.path + "/" + segment, at: last + 24 + 3)

        var engine = try MeterEngine.open(options: options(directory))
        let observedTotal = try await total(engine)
        XCTAssertEqual(observedTotal, ExactDecimal(5))
        let damage = try XCTUnwrap(engine.recovery.log.damage.first)
        XCTAssertEqual(damage.segment, segment)
        XCTAssertEqual(damage.offset, Int64(last))
        XCTAssertFalse(damage.lostRecords, "the snapshot covers the damaged record")
        let problem = try XCTUnwrap(engine.recovery.problems.first)
        XCTAssertTrue(problem.contains(segment) && problem.contains("offset \(last)"), problem)
        // The log continues after the snapshot, and the next start is clean and complete.
        _ = try await engine.ingest(events: [usageEvent("after", tokens: 1)])
        await engine.shutdown()
        for repair in [false, true] {
            var reopened = options(directory)
            reopened.repair = repair
            engine = try MeterEngine.open(options: reopened)
            let reopenedTotal = try await total(engine)
            XCTAssertEqual(reopenedTotal, ExactDecimal(6))
            XCTAssertTrue(engine.recovery.log.damage.isEmpty)
            await engine.shutdown()
        }
    }

    func testAFlippedByteBelowTheSnapshotIsRefusedUnchangedThenRepairedWithTheWholeState() async throws {
        let directory = DataDirectory(self)
        // Snapshot at 6 (meter + 5 batches); then 3 more records the snapshot does not cover.
        try await writeMeterAndBatches(directory, batches: 5)
        var engine = try MeterEngine.open(options: options(directory))
        for batch in 5..<8 { _ = try await engine.ingest(events: [usageEvent("e\(batch)", tokens: 1)]) }
        await engine.shutdown()
        try removeSnapshots(directory, after: 6)
        let segment = try newestSegment(directory)
        let frames = try SegmentFrames(path: directory.path + "/" + segment)
        XCTAssertEqual(frames.offsets.count, 9)
        try flipByte(directory.path + "/" + segment, at: frames.offsets[2] + 24 + 3)
        let before = try contents(directory)

        XCTAssertThrowsError(try MeterEngine.open(options: options(directory))) { error in
            guard case LogError.corruption(let name, let offset, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, segment)
            XCTAssertEqual(offset, Int64(frames.offsets[2]))
            XCTAssertTrue(reason.contains("loses no state"), reason)
        }
        XCTAssertEqual(try contents(directory), before, "a refusal changes nothing")

        var repair = options(directory)
        repair.repair = true
        engine = try MeterEngine.open(options: repair)
        let repairedTotal = try await total(engine)
        XCTAssertEqual(repairedTotal, ExactDecimal(8))
        XCTAssertEqual(engine.recovery.log.damage.first?.offset, Int64(frames.offsets[2]))
        XCTAssertEqual(engine.recovery.log.damage.first?.lostRecords, false)
        await engine.shutdown()
        // Replay from the old snapshot again, through the restarted log, in every mode.
        for mode in [false, true] {
            try removeSnapshots(directory, after: 6)
            var reopened = options(directory)
            reopened.repair = mode
            engine = try MeterEngine.open(options: reopened)
            let reopenedTotal = try await total(engine)
            XCTAssertEqual(reopenedTotal, ExactDecimal(8))
            XCTAssertEqual(engine.recovery.replayedRecords, 3)
            XCTAssertTrue(engine.recovery.log.isClean, "\(engine.recovery.log)")
            await engine.shutdown()
        }
    }

    func testAFlippedByteAboveTheSnapshotIsRefusedAndRepairSaysWhatItDrops() async throws {
        let directory = DataDirectory(self)
        try await writeMeterAndBatches(directory, batches: 2)
        var engine = try MeterEngine.open(options: options(directory))
        for batch in 2..<6 { _ = try await engine.ingest(events: [usageEvent("e\(batch)", tokens: 1)]) }
        await engine.shutdown()
        try removeSnapshots(directory, after: 3)
        let segment = try newestSegment(directory)
        let frames = try SegmentFrames(path: directory.path + "/" + segment)
        try flipByte(directory.path + "/" + segment, at: frames.offsets[4] + 24 + 3)

        XCTAssertThrowsError(try MeterEngine.open(options: options(directory))) { error in
            XCTAssertTrue("\(error)".contains("records from sequence 5 on are not in the snapshot"), "\(error)")
        }
        var repair = options(directory)
        repair.repair = true
        engine = try MeterEngine.open(options: repair)
        let repairedTotal = try await total(engine)
        XCTAssertEqual(repairedTotal, ExactDecimal(3))
        XCTAssertEqual(engine.recovery.log.damage.first?.firstLostSequence, 5)
        XCTAssertTrue(engine.recovery.problems.first?.hasPrefix("ERROR") ?? false)
        await engine.shutdown()
        engine = try MeterEngine.open(options: options(directory))
        let reopenedTotal = try await total(engine)
        XCTAssertEqual(reopenedTotal, ExactDecimal(3))
        await engine.shutdown()
    }

    func testATornLastRecordAboveTheSnapshotIsAnErrorNamingTheLostEvents() async throws {
        let directory = DataDirectory(self)
        try await writeMeterAndBatches(directory, batches: 2)
        var engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.ingest(events: [usageEvent("lost-1", tokens: 1), usageEvent("lost-2", tokens: 1)])
        await engine.shutdown()
        try removeSnapshots(directory, after: 3)
        let segment = try newestSegment(directory)
        let frames = try SegmentFrames(path: directory.path + "/" + segment)
        let last = try XCTUnwrap(frames.offsets.last)
        try flipByte(directory.path + "/" + segment, at: last + 21)  // the stored checksum

        engine = try MeterEngine.open(options: options(directory))
        let observedTotal = try await total(engine)
        XCTAssertEqual(observedTotal, ExactDecimal(2))
        let problem = try XCTUnwrap(engine.recovery.problems.first)
        XCTAssertTrue(problem.hasPrefix("ERROR"), problem)
        XCTAssertTrue(problem.contains("\(segment) at offset \(last)"), problem)
        XCTAssertTrue(problem.contains("2 acknowledged event(s) dropped, ids lost-1 ... lost-2"), problem)
        await engine.shutdown()
    }

    func testTheDataDirectoryIsOwnerOnlyAndItsFilesTooIncludingCutCopies() async throws {
        let directory = DataDirectory(self)
        try await writeMeterAndBatches(directory, batches: 2)
        let segment = try newestSegment(directory)
        let frames = try SegmentFrames(path: directory.path + "/" + segment)
        try flipByte(directory.path + "/" + segment, at: frames.offsets.last! + 24 + 1)
        let engine = try MeterEngine.open(options: options(directory))
        await engine.shutdown()
        XCTAssertEqual(try mode(directory.path), 0o700)
        let files = try directory.files()
        XCTAssertTrue(files.contains { $0.contains(".torn-") }, "\(files)")
        XCTAssertTrue(files.contains { $0.hasPrefix("snapshot-") }, "\(files)")
        for file in files {
            XCTAssertEqual(try mode(directory.path + "/" + file), 0o600, file)
        }
    }

    // MARK: - Helpers

    /// A meter and `batches` one-event batches, then a clean shutdown (snapshot at batches + 1).
    private func writeMeterAndBatches(_ directory: DataDirectory, batches: Int) async throws {
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        for batch in 0..<batches { _ = try await engine.ingest(events: [usageEvent("e\(batch)", tokens: 1)]) }
        await engine.shutdown()
        XCTAssertTrue(try directory.files().contains(String(format: "snapshot-%020d.snap", batches + 1)), "no snapshot covers the last record")
    }

    private func newestSegment(_ directory: DataDirectory) throws -> String {
        try XCTUnwrap(directory.files().last { $0.hasPrefix("log-") && $0.hasSuffix(".wal") })
    }

    private func removeSnapshots(_ directory: DataDirectory, after sequence: UInt64) throws {
        for file in try directory.files() where file.hasPrefix("snapshot-") && file.hasSuffix(".snap") {
            let digits = file.dropFirst("snapshot-".count).prefix(20)
            if let position = UInt64(digits), position > sequence {
                try FileManager.default.removeItem(atPath: directory.path + "/" + file)
            }
        }
    }

    private func flipByte(_ path: String, at offset: Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[offset] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    private func contents(_ directory: DataDirectory) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for file in try directory.files() { result[file] = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/" + file)) }
        return result
    }

    private func mode(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw CocoaError(.fileNoSuchFile) }
        return Int(status.st_mode) & 0o777
    }
}

/// The frame offsets of one segment file, read by walking the length words (format in
/// docs/log-format.md): a 32-byte header, then frames of 24 bytes plus the payload padded to 8.
struct SegmentFrames {
    var offsets: [Int] = []

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offset = 32
        while offset + 24 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            if bytes[offset + 4] == 0 { break }
            if bytes[offset + 4] != 255 { offsets.append(offset) }
            offset += 24 + (length + 7) / 8 * 8
        }
    }
}
