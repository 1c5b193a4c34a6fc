// Built with the Cluster trait only (`swift test --traits Cluster`): needs libnats and nats-server.
#if Cluster
import Foundation
import Logging
@testable import MeterCluster
import MeterCore
import MeterEngine
import MeterLog
import XCTest

/// Fencing of snapshot publishing by the lease and trimming of the stream behind the snapshots
/// (docs/cluster.md, "Snapshots" and "Trimming"), against a real nats-server with JetStream.
final class FencingAndTrimmingTests: XCTestCase {
    /// A node that lost a partition's lease publishes no manifest for it; one published late
    /// covering less is not preferred by takers.
    func testAPublishAfterTheLeaseMovedIsRefusedAndAStaleManifestIsIgnored() throws {
        let harness = try SnapshotHarness(self)
        let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: .cumulative)
        try harness.append(.meterCreated(meter, atMilliseconds: harness.now), subject: harness.log.metaSubject)
        for batch in 0..<5 { _ = try harness.ingest(partition: 0, ids: ["f\(batch)"], tokens: 1) }
        let first = try harness.connection.lastSequence(stream: "METERD")
        let replay = try harness.replay(startAfter: 0, through: first)
        let older = try XCTUnwrap(try harness.capture(replay.engine))

        let bucket = try harness.connection.keyValue(bucket: "METERD_OWNERS", replicas: 1, deadline: Date(timeIntervalSinceNow: 30))
        let holds = LockedFlag(true)
        let fence = LeaseFence(bucket: bucket, node: "test", holdsLocally: { _ in holds.value })
        harness.snapshots.fence = { fence.check($0) }
        let manifests = harness.snapshots.manifestSubject(.partition(0))

        // The lease names another node: nothing is published.
        _ = try bucket.put(LeasePlanner.leaseKey(0), PartitionLease(owner: "other", address: "/other.sock").text).get()
        var result = harness.snapshots.publish(.partition(0), streamSequence: first, snapshot: older, attempts: 1)
        XCTAssertTrue("\(result)".contains("now names other"), "\(result)")
        XCTAssertNil(try harness.connection.lastMessage(stream: "METERD_SNAP", subject: manifests).get(), "no manifest was published")
        // This node's own clock says its hold ran out (renewals did not get through): refused too.
        let revision = try bucket.put(LeasePlanner.leaseKey(0), PartitionLease(owner: "test", address: "/test.sock").text).get()
        holds.value = false
        result = harness.snapshots.publish(.partition(0), streamSequence: first, snapshot: older, attempts: 1)
        XCTAssertTrue("\(result)".contains("no longer holds the lease of partition 0"), "\(result)")
        XCTAssertNil(try harness.connection.lastMessage(stream: "METERD_SNAP", subject: manifests).get())
        // Held: published, with the lease revision it checked.
        holds.value = true
        let published = try harness.snapshots.publish(.partition(0), streamSequence: first, snapshot: older).get()
        XCTAssertEqual(published.leaseRevision, revision)
        // The meta engine's snapshots are fenced by partition 0's lease.
        _ = try bucket.put(LeasePlanner.leaseKey(0), PartitionLease(owner: "other", address: "/other.sock").text).get()
        result = harness.snapshots.publish(.meta, streamSequence: first, snapshot: older, attempts: 1)
        XCTAssertTrue("\(result)".contains("now names other"), "\(result)")
        XCTAssertNil(try harness.connection.lastMessage(stream: "METERD_SNAP", subject: harness.snapshots.manifestSubject(.meta)).get())

        // A newer snapshot by the current owner, then a stale manifest published late (the old
        // owner's, an older lease revision, covering less): takers keep the newer one.
        for batch in 5..<10 { _ = try harness.ingest(partition: 0, ids: ["f\(batch)"], tokens: 1) }
        let second = try harness.connection.lastSequence(stream: "METERD")
        try harness.continueReplay(replay, through: second)
        let newer = try XCTUnwrap(try harness.capture(replay.engine))
        _ = try bucket.put(LeasePlanner.leaseKey(0), PartitionLease(owner: "test", address: "/test.sock").text).get()
        let current = try harness.snapshots.publish(.partition(0), streamSequence: second, snapshot: newer).get()
        let currentMessage = try XCTUnwrap(try harness.connection.lastMessage(stream: "METERD_SNAP", subject: manifests).get())
        var stale = published
        stale.previous = currentMessage.sequence
        _ = try harness.publish(Array(stale.text.utf8), subject: manifests)
        let loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0)))
        XCTAssertEqual(loaded.manifest, current, "the stale manifest published last is not preferred")
        XCTAssertEqual(loaded.snapshot, newer)
        harness.close(replay)
    }

    /// The trimmer purges only what every scope's verified snapshot covers, what the last meta
    /// record is covered by, and what is older than the retention; a taker then starts from the
    /// snapshot and counts every event once, and an applier that would need a trimmed record stops.
    func testTrimmingPurgesOnlyWhatEverySnapshotCoversAndIsOldEnough() throws {
        let harness = try SnapshotHarness(self)
        var options = harness.log.options
        options.retainSeconds = 30
        let settings = try harness.connection.keyValue(bucket: "METERD_SETTINGS", replicas: 1, deadline: Date(timeIntervalSinceNow: 30))
        let trimmer = StreamTrimmer(connection: harness.connection, snapshots: harness.snapshots, options: options,
                                    metaSubject: harness.log.metaSubject, settings: settings, announcementSeconds: 0,
                                    logger: Logger(label: "test"), trims: { true })
        let meter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: .cumulative)
        try harness.append(.meterCreated(meter, atMilliseconds: harness.now), subject: harness.log.metaSubject)
        var expected = 0
        for batch in 0..<20 {
            expected += try harness.ingest(partition: 0, ids: (0..<5).map { "t\(batch)-\($0)" }, tokens: batch + 1)
            _ = try harness.ingest(partition: 1, ids: ["u\(batch)"], tokens: 1000)
        }
        let middle = try harness.connection.lastSequence(stream: "METERD")
        let later = Date(timeIntervalSinceNow: 3600)
        XCTAssertEqual(trimmer.trimOnce(now: later), .waiting("meta has no snapshot that verifies"))

        // Snapshots: partition 0 through `middle`, partition 1 and the meta engine earlier.
        let owner = try harness.replay(startAfter: 0, through: middle)
        _ = try harness.snapshots.publish(.partition(0), streamSequence: middle, snapshot: try XCTUnwrap(try harness.capture(owner.engine))).get()
        let early = try harness.replay(startAfter: 0, through: 21)
        let earlyState = try XCTUnwrap(try harness.capture(early.engine))
        _ = try harness.snapshots.publish(.meta, streamSequence: 21, snapshot: earlyState).get()
        XCTAssertEqual(trimmer.trimOnce(now: later), .waiting("partition 1 has no snapshot that verifies"))
        _ = try harness.snapshots.publish(.partition(1), streamSequence: 31, snapshot: earlyState).get()
        // Nothing is older than 30 s yet.
        XCTAssertEqual(trimmer.trimOnce(), .waiting("no message covered by every snapshot is older than 30 s"))
        XCTAssertEqual(try harness.connection.sequences(stream: "METERD").first, 1)
        XCTAssertNil(try settings.get(StreamTrimmer.announcementKey).get(), "nothing announced while nothing could be trimmed")
        // An hour later: everything below the lowest coverage (21, the meta engine's) + 1 goes.
        XCTAssertEqual(trimmer.trimOnce(now: later), .trimmed(below: 22, from: 1))
        XCTAssertNotNil(try settings.get(StreamTrimmer.announcementKey).get(), "trimming was announced before the purge")
        XCTAssertEqual(try harness.connection.sequences(stream: "METERD").first, 22, "the stream's first sequence advanced")
        XCTAssertEqual(trimmer.trimOnce(now: later), .waiting("nothing below sequence 22 is left to trim"))

        // A meta record after the snapshots holds trimming back until they cover it.
        try harness.append(.meterCreated(MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count, reset: .cumulative),
                                         atMilliseconds: harness.now), subject: harness.log.metaSubject)
        let metaRecord = try harness.connection.lastSequence(stream: "METERD")
        _ = try harness.snapshots.publish(.meta, streamSequence: 35, snapshot: earlyState).get()
        XCTAssertEqual(trimmer.trimOnce(now: later), .waiting("the snapshot of partition 1 covers through 31, before the meta record at \(metaRecord)"))

        // A taker of partition 0 starts from its snapshot and replays only the stream after it.
        for batch in 20..<25 { expected += try harness.ingest(partition: 0, ids: (0..<5).map { "t\(batch)-\($0)" }, tokens: batch + 1) }
        _ = try harness.ingest(partition: 0, ids: (0..<5).map { "t2-\($0)" }, tokens: 3)
        let end = try harness.connection.lastSequence(stream: "METERD")
        let loaded = try XCTUnwrap(harness.snapshots.loadNewest(.partition(0), firstSequence: 22))
        XCTAssertEqual(loaded.manifest.streamSequence, middle)
        let taker = try harness.replay(seed: loaded.snapshot, startAfter: middle, through: end)
        XCTAssertEqual(try harness.total(taker.engine), ExactDecimal(Int64(expected)), "every event once, the retried ones not again")
        // A snapshot covering less than the trimmed part is not loaded...
        XCTAssertNil(harness.snapshots.loadNewest(.partition(1), firstSequence: 40))
        // ... and an applier that would need trimmed records stops instead of skipping them.
        XCTAssertThrowsError(try harness.replay(startAfter: 0, through: end)) { error in
            XCTAssertTrue("\(error)".contains("the stream was trimmed below sequence 22"), "\(error)")
        }
        let takerState = try XCTUnwrap(try harness.capture(taker.engine))
        for replay in [owner, early, taker] { harness.close(replay) }

        // A trimmer that has not yet seen the announcement for its wait purges nothing.
        let patient = StreamTrimmer(connection: harness.connection, snapshots: harness.snapshots, options: options,
                                    metaSubject: harness.log.metaSubject, settings: settings, announcementSeconds: 3600,
                                    logger: Logger(label: "test"), trims: { true })
        _ = try harness.snapshots.publish(.partition(0), streamSequence: end, snapshot: takerState).get()
        _ = try harness.snapshots.publish(.partition(1), streamSequence: metaRecord, snapshot: earlyState).get()
        _ = try harness.snapshots.publish(.meta, streamSequence: metaRecord, snapshot: earlyState).get()
        XCTAssertEqual(patient.trimOnce(now: later), .waiting("trimming was announced 0 s ago; the first purge waits 3600 s"))
        XCTAssertEqual(try harness.connection.sequences(stream: "METERD").first, 22)
        XCTAssertEqual(trimmer.trimOnce(now: later), .trimmed(below: metaRecord + 1, from: 22))
    }
}

/// A flag the test flips while the fence reads it.
private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag: Bool
    init(_ value: Bool) { flag = value }
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
#endif
