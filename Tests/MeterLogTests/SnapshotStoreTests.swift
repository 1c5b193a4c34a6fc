import MeterTestSupport
import XCTest
@testable import MeterLog

final class SnapshotStoreTests: XCTestCase {
    func testWriteThenLoad() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        XCTAssertNil(try store.loadNewest())
        try store.write(sequence: 10, bytes: [1, 2, 3])
        try store.write(sequence: 25, bytes: Array(repeating: 9, count: 5000))
        try store.write(sequence: 0, bytes: [])
        XCTAssertEqual(try directory.names(), [
            "snapshot-00000000000000000000.snap",
            "snapshot-00000000000000000010.snap",
            "snapshot-00000000000000000025.snap",
        ])
        let newest = try XCTUnwrap(try store.loadNewest())
        XCTAssertEqual(newest.sequence, 25)
        XCTAssertEqual(newest.bytes, Array(repeating: 9, count: 5000))
        let bytes = try readBytes(directory.file("snapshot-00000000000000000010.snap"))
        XCTAssertEqual(Array(bytes[0..<8]), Array("MTRSNAP1".utf8))
        XCTAssertEqual(bytes.count, 32 + 3)
    }

    /// A snapshot larger than a few writeback chunks is written paced: each chunk's writeback
    /// starts as soon as it is written and the one before it is waited for, so no more than two
    /// chunks are ever dirty; the file still loads byte for byte.
    func testLargeSnapshotsAreWrittenPacedAndLoadIntact() throws {
        let directory = try TemporaryDirectory(self)
        let systemCalls = FaultInjectingSystemCalls()
        let store = try SnapshotStore(directory: directory.path, systemCalls: systemCalls)
        let chunk = SnapshotStore.writebackChunk
        var random = SplitMix64(seed: 77)
        let bytes = (0..<(3 * chunk + 12_345)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try store.write(sequence: 3, bytes: bytes)
        let header = Int64(32)
        let calls = systemCalls.writeBackCalls
        let expected: [(Int64, Int64, Bool)] = [
            (header, Int64(chunk), false),
            (header + Int64(chunk), Int64(chunk), false), (header, Int64(chunk), true),
            (header + 2 * Int64(chunk), Int64(chunk), false), (header + Int64(chunk), Int64(chunk), true),
            (header + 3 * Int64(chunk), 12_345, false), (header + 2 * Int64(chunk), Int64(chunk), true),
        ]
        XCTAssertEqual(calls.count, expected.count)
        for (call, want) in zip(calls, expected) {
            XCTAssertEqual(call.offset, want.0)
            XCTAssertEqual(call.count, want.1)
            XCTAssertEqual(call.wait, want.2)
        }
        let loaded = try XCTUnwrap(try store.loadNewest())
        XCTAssertEqual(loaded.sequence, 3)
        XCTAssertTrue(loaded.bytes == bytes)
    }

    /// With a write rate, the store does not write a chunk before its time: three 2 MiB chunks at
    /// 8 MiB/s cannot start the third before 0.5 s. (A lower bound only, so it cannot fail on a
    /// slow machine; it fails if the cap is ignored.)
    func testTheWriteRateCapHoldsChunksBack() throws {
        let directory = try TemporaryDirectory(self)
        var store = try SnapshotStore(directory: directory.path)
        store.writeBytesPerSecond = 8 << 20
        let bytes = [UInt8](repeating: 3, count: 2 * SnapshotStore.writebackChunk + 1)
        let began = ContinuousClock.now
        try store.write(sequence: 1, bytes: bytes)
        let elapsed = ContinuousClock.now - began
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(490), "4 MiB were written before the third chunk in \(elapsed)")
        XCTAssertTrue(try XCTUnwrap(try store.loadNewest()).bytes == bytes)
    }

    /// Snapshots named as written by this process count as valid without being read: a damaged
    /// file under such a name is kept (it is the caller's word), while an unnamed damaged file
    /// is still found out and not counted.
    func testPruneTrustsTheSnapshotsItIsToldWereWritten() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        for sequence: UInt64 in [1, 2, 3] { try store.write(sequence: sequence, bytes: [UInt8(sequence)]) }
        // Damage snapshot 3 behind the store's back.
        let path = directory.file("snapshot-00000000000000000003.snap")
        var bytes = try readBytes(path)
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try store.prune(keeping: 2, written: [3]), ["snapshot-00000000000000000001.snap"],
                       "3 (trusted) and 2 kept; 1 deleted")
        try store.write(sequence: 1, bytes: [1])
        XCTAssertEqual(try store.prune(keeping: 2), [], "untrusted, 3 is read and found damaged: 2 and 1 are the valid ones kept")
    }

    /// A large snapshot is deleted by cutting it down in steps before the unlink (so that freeing
    /// its blocks never holds the journal for long): with ftruncate failing, pruning it fails;
    /// otherwise it is gone and the kept one loads.
    func testPruneCutsALargeSnapshotDownBeforeDeletingIt() throws {
        let directory = try TemporaryDirectory(self)
        let systemCalls = FaultInjectingSystemCalls()
        let store = try SnapshotStore(directory: directory.path, systemCalls: systemCalls)
        try store.write(sequence: 1, bytes: [UInt8](repeating: 1, count: 17 << 20))
        try store.write(sequence: 2, bytes: [2])
        systemCalls.fail(.ftruncate, with: EIO)
        XCTAssertThrowsError(try store.prune(keeping: 1), "the 17 MiB snapshot is cut down with ftruncate first")
        systemCalls.stopFailing()
        XCTAssertEqual(try store.prune(keeping: 1), ["snapshot-00000000000000000001.snap"])
        XCTAssertEqual(try directory.names(), ["snapshot-00000000000000000002.snap"])
        XCTAssertEqual(try XCTUnwrap(try store.loadNewest()).bytes, [2])
    }

    /// The real system call is found and succeeds on a regular file (Linux), so pacing is
    /// really in effect and not silently skipped.
    func testWriteBackReachesTheKernel() throws {
        #if os(Linux)
        let directory = try TemporaryDirectory(self)
        let path = directory.file("paced")
        let descriptor = open(path, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        let payload = [UInt8](repeating: 7, count: 8192)
        XCTAssertEqual(payload.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }, 8192)
        XCTAssertEqual(PosixSystemCalls().writeBack(descriptor, offset: 0, count: 8192, wait: false), 0)
        XCTAssertEqual(PosixSystemCalls().writeBack(descriptor, offset: 0, count: 8192, wait: true), 0)
        XCTAssertEqual(PosixSystemCalls().writeBack(-1, offset: 0, count: 8192, wait: true), -1, "a bad descriptor must reach the kernel and fail")
        #endif
    }

    func testLoadFallsBackPastDamagedSnapshots() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        try store.write(sequence: 5, bytes: [5, 5, 5])
        try store.write(sequence: 7, bytes: [7, 7, 7, 7])
        try store.write(sequence: 9, bytes: [9])
        // Newest: one flipped bit in the body. Next: truncated. Then a file under the wrong name.
        let newestPath = directory.file("snapshot-00000000000000000009.snap")
        var newest = try readBytes(newestPath)
        newest[32] ^= 0x80
        try writeBytes(newest, to: newestPath)
        try truncateFile(directory.file("snapshot-00000000000000000007.snap"), to: 34)
        try writeBytes(try readBytes(directory.file("snapshot-00000000000000000005.snap")), to: directory.file("snapshot-00000000000000000008.snap"))

        let load = try store.load()
        XCTAssertEqual(load.newest, Snapshot(sequence: 5, bytes: [5, 5, 5]))
        XCTAssertEqual(load.skipped.map(\.file), [
            "snapshot-00000000000000000009.snap",
            "snapshot-00000000000000000008.snap",
            "snapshot-00000000000000000007.snap",
        ])
        XCTAssertTrue(load.skipped[0].reason.contains("checksum mismatch"), load.skipped[0].reason)
        XCTAssertTrue(load.skipped[1].reason.contains("does not match the file name"), load.skipped[1].reason)
        XCTAssertTrue(load.skipped[2].reason.contains("length"), load.skipped[2].reason)
        XCTAssertEqual(try store.loadNewest()?.sequence, 5)

        try truncateFile(directory.file("snapshot-00000000000000000005.snap"), to: 0)
        XCTAssertNil(try store.loadNewest())
        XCTAssertEqual(try store.load().skipped.count, 4)
    }

    func testTemporaryFilesAreIgnoredAndPruned() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        try store.write(sequence: 3, bytes: [3])
        try writeBytes([1, 2, 3], to: directory.file("snapshot-00000000000000000004.snap.tmp"))
        XCTAssertEqual(try store.loadNewest()?.sequence, 3)
        XCTAssertEqual(try store.prune(keeping: 1), ["snapshot-00000000000000000004.snap.tmp"])
        XCTAssertEqual(try directory.names(), ["snapshot-00000000000000000003.snap"])
    }

    func testPruneKeepsTheNewestValidSnapshots() throws {
        let directory = try TemporaryDirectory(self)
        let store = try SnapshotStore(directory: directory.path)
        for sequence in [1, 2, 3, 4, 5] as [UInt64] { try store.write(sequence: sequence, bytes: [UInt8(sequence)]) }
        try truncateFile(directory.file("snapshot-00000000000000000005.snap"), to: 3)
        let deleted = try store.prune(keeping: 2)
        XCTAssertEqual(deleted, ["snapshot-00000000000000000002.snap", "snapshot-00000000000000000001.snap"])
        XCTAssertEqual(try directory.names(), [
            "snapshot-00000000000000000003.snap",
            "snapshot-00000000000000000004.snap",
            "snapshot-00000000000000000005.snap",
        ])
        XCTAssertEqual(try store.prune(keeping: 3), [], "fewer valid snapshots than asked for: delete none")
    }

    func testFailedRenameLeavesThePreviousSnapshot() throws {
        let directory = try TemporaryDirectory(self)
        let systemCalls = FaultInjectingSystemCalls()
        let store = try SnapshotStore(directory: directory.path, systemCalls: systemCalls)
        try store.write(sequence: 1, bytes: [1])
        systemCalls.fail(.rename, with: EIO)
        XCTAssertThrowsError(try store.write(sequence: 2, bytes: [2])) { error in
            guard case .io(let operation, _, EIO) = error as? LogError else { return XCTFail("\(error)") }
            XCTAssertTrue(operation.hasPrefix("rename"))
        }
        XCTAssertEqual(try store.loadNewest()?.sequence, 1)
    }
}
