// Built with the Cluster trait only (`swift test --traits Cluster`): needs libnats and nats-server.
#if Cluster
import Foundation
import Logging
@testable import MeterCluster
import MeterCore
import MeterEngine
import MeterLog
import XCTest

/// Partition snapshots shared through JetStream (docs/cluster.md, "Snapshots") against a real
/// nats-server with JetStream: a snapshot published and loaded back, plus the stream after it,
/// gives byte for byte the state a full replay gives; a damaged or incomplete snapshot is
/// skipped for the one before it, never read.
final class PartitionSnapshotTests: XCTestCase {
    func testASnapshotLoadedBackPlusTheStreamAfterItEqualsAFullReplay() throws {
        let harness = try SnapshotHarness(self)
        let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: .cumulative)
        try harness.append(.meterCreated(meter, atMilliseconds: harness.now), subject: harness.log.metaSubject)
        var expected = 0
        for batch in 0..<40 {
            expected += try harness.ingest(partition: 0, ids: (0..<10).map { "a\(batch)-\($0)" }, tokens: batch + 1)
            _ = try harness.ingest(partition: 1, ids: ["other-\(batch)"], tokens: 1000)
        }
        let firstPart = try harness.connection.lastSequence(stream: "METERD")

        // The owner: applies everything so far, captures its state and publishes it.
        let owner = try harness.replay(startAfter: 0, through: firstPart)
        XCTAssertEqual(owner.records, 41, "the meter and 40 batches of partition 0; partition 1 is skipped")
        let captured = try XCTUnwrap(try harness.capture(owner.engine))
        let published = try harness.snapshots.publish(.partition(0), streamSequence: firstPart, snapshot: captured).get()
        XCTAssertEqual(published.streamSequence, firstPart)

        // More of the stream: new events, and retries of events the snapshot holds (duplicates:
        // the exactly-once index must come through the snapshot).
        for batch in 40..<60 {
            expected += try harness.ingest(partition: 0, ids: (0..<10).map { "a\(batch)-\($0)" }, tokens: batch + 1)
        }
        _ = try harness.ingest(partition: 0, ids: (0..<10).map { "a3-\($0)" }, tokens: 4)
        _ = try harness.ingest(partition: 0, ids: (0..<10).map { "a45-\($0)" }, tokens: 46)
        let end = try harness.connection.lastSequence(stream: "METERD")

        // A node taking the partition: the newest snapshot, then only the stream after it.
        let loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest.streamSequence, firstPart)
        XCTAssertEqual(loaded.snapshot, captured, "the bytes published are the bytes loaded")
        let fromSnapshot = try harness.replay(seed: loaded.snapshot, startAfter: firstPart, through: end)
        XCTAssertEqual(fromSnapshot.records, 22, "only the 22 batches after the snapshot were replayed")
        // A node rebuilding from the stream's start.
        let full = try harness.replay(startAfter: 0, through: end)
        XCTAssertEqual(full.records, 63)

        let snapshotState = try XCTUnwrap(try harness.capture(fromSnapshot.engine))
        let fullState = try XCTUnwrap(try harness.capture(full.engine))
        XCTAssertEqual(snapshotState.sequence, fullState.sequence)
        XCTAssertTrue(snapshotState.bytes == fullState.bytes, "snapshot + replay and full replay give different states")
        let fromSnapshotTotal = try harness.total(fromSnapshot.engine)
        let fullTotal = try harness.total(full.engine)
        XCTAssertEqual(fromSnapshotTotal, ExactDecimal(Int64(expected)), "every event once, the retried ones not again")
        XCTAssertEqual(fullTotal, ExactDecimal(Int64(expected)))

        // A meter created after the snapshot would backfill events the snapshot's engine has no
        // log of: that engine says so (ClusterNode then rebuilds it from the stream's start).
        let later = MeterDefinition(eventName: "tokens_listed", displayName: "Later", aggregation: .count, reset: .cumulative)
        try harness.append(.meterCreated(later, atMilliseconds: harness.now), subject: harness.log.metaSubject)
        let withMeter = try harness.connection.lastSequence(stream: "METERD")
        try harness.continueReplay(fromSnapshot, through: withMeter)
        try harness.continueReplay(full, through: withMeter)
        let created = try harness.meter(fromSnapshot.engine, eventName: "tokens_listed")
        XCTAssertTrue(fromSnapshot.engine.backfillNeedsEarlierLog(created))
        XCTAssertFalse(full.engine.backfillNeedsEarlierLog(try harness.meter(full.engine, eventName: "tokens_listed")))
        XCTAssertFalse(fromSnapshot.engine.backfillNeedsEarlierLog(try harness.meter(fromSnapshot.engine, eventName: "tokens_used")),
                       "a meter the snapshot holds has backfilled already")
        for replay in [owner, fromSnapshot, full] { harness.close(replay) }
    }

    func testADamagedOrIncompleteSnapshotIsSkippedForTheOneBeforeIt() throws {
        let harness = try SnapshotHarness(self)
        let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: .cumulative)
        try harness.append(.meterCreated(meter, atMilliseconds: harness.now), subject: harness.log.metaSubject)
        for batch in 0..<5 { _ = try harness.ingest(partition: 0, ids: ["b\(batch)"], tokens: 1) }
        let first = try harness.connection.lastSequence(stream: "METERD")
        let replay = try harness.replay(startAfter: 0, through: first)
        let older = try XCTUnwrap(try harness.capture(replay.engine))
        _ = try harness.snapshots.publish(.partition(0), streamSequence: first, snapshot: older).get()
        for batch in 5..<10 { _ = try harness.ingest(partition: 0, ids: ["b\(batch)"], tokens: 1) }
        let second = try harness.connection.lastSequence(stream: "METERD")
        try harness.continueReplay(replay, through: second)
        let newer = try XCTUnwrap(try harness.capture(replay.engine))
        let good = try harness.snapshots.publish(.partition(0), streamSequence: second, snapshot: newer).get()
        harness.close(replay)

        // Newest: a manifest whose chunk was damaged (one byte flipped; length right, CRC wrong).
        let goodManifest = try XCTUnwrap(try harness.connection.lastMessage(stream: "METERD_SNAP", subject: harness.snapshots.manifestSubject(.partition(0))).get())
        var damagedBytes = newer.bytes
        damagedBytes[damagedBytes.count / 2] ^= 0x40
        let damagedChunk = try harness.publish(damagedBytes, subject: harness.snapshots.dataSubject(.partition(0)))
        var damaged = good
        damaged.streamSequence = second + 1
        damaged.chunks = [damagedChunk]
        damaged.previous = goodManifest.sequence
        _ = try harness.publish(Array(damaged.text.utf8), subject: harness.snapshots.manifestSubject(.partition(0)))
        var loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest.streamSequence, second, "the damaged snapshot is skipped for the good one before it")
        XCTAssertEqual(loaded.snapshot, newer)

        // Newest: a manifest whose chunks never all arrived (one missing, then one too short).
        var incomplete = good
        incomplete.streamSequence = second + 2
        incomplete.chunks = [good.chunks[0], 999_999]
        incomplete.previous = goodManifest.sequence
        _ = try harness.publish(Array(incomplete.text.utf8), subject: harness.snapshots.manifestSubject(.partition(0)))
        loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest.streamSequence, second)
        let shortChunk = try harness.publish(Array(newer.bytes.dropLast()), subject: harness.snapshots.dataSubject(.partition(0)))
        incomplete.chunks = [shortChunk]
        _ = try harness.publish(Array(incomplete.text.utf8), subject: harness.snapshots.manifestSubject(.partition(0)))
        loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest.streamSequence, second)

        // Newest: a damaged one pointing to the older snapshot (kept: the newest two are):
        // that one, with its own stream sequence.
        var pointingBack = damaged
        pointingBack.previous = good.previous
        _ = try harness.publish(Array(pointingBack.text.utf8), subject: harness.snapshots.manifestSubject(.partition(0)))
        loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest.streamSequence, first)
        XCTAssertEqual(loaded.snapshot, older)

        // A manifest of another format: not guessed at; the stream's start instead.
        _ = try harness.publish(Array("meterd-partition-snapshot 9\nscope p0\n".utf8), subject: harness.snapshots.manifestSubject(.partition(0)))
        XCTAssertNil(harness.snapshots.loadNewest(.partition(0)))
    }

    func testAManifestRoundTripsAndAnotherFormatIsRefused() throws {
        let manifest = SnapshotManifest(scope: .partition(3), streamSequence: 1234, engineSequence: 99, byteCount: 5_000_000, checksum: 0xdead_beef,
                                        chunks: [10, 11, 15], previous: 7, node: "node-2", leaseRevision: 41)
        XCTAssertEqual(try SnapshotManifest(text: manifest.text), manifest)
        var meta = manifest
        meta.scope = .meta
        XCTAssertEqual(try SnapshotManifest(text: meta.text), meta)
        XCTAssertTrue(meta.text.contains("\nscope meta\n"), meta.text)
        // Version 1 (before scopes and lease revisions) and a later one are refused, never guessed at.
        for other in ["1", "3"] {
            XCTAssertThrowsError(try SnapshotManifest(text: manifest.text.replacingOccurrences(of: "snapshot 2", with: "snapshot \(other)"))) { error in
                XCTAssertTrue("\(error)".contains("format \(other) is not the version 2"), "\(error)")
            }
        }
        XCTAssertThrowsError(try SnapshotManifest(text: manifest.text.replacingOccurrences(of: "scope p3", with: "scope q3")))
        XCTAssertThrowsError(try SnapshotManifest(text: manifest.text.replacingOccurrences(of: "lease-revision 41\n", with: "")))
        XCTAssertThrowsError(try SnapshotManifest(text: manifest.text.replacingOccurrences(of: "crc32c deadbeef\n", with: "")))
        XCTAssertThrowsError(try SnapshotManifest(text: "hello"))
    }
}
#endif
