import MeterCluster
import XCTest

/// The lease decisions of partitioned cluster mode, driven through an in-memory bucket with the
/// same compare-and-set rule as JetStream KV (a write on a stale revision fails).
final class LeasePlannerTests: XCTestCase {
    /// A key-value bucket in memory: revisions grow across the bucket, as JetStream's do.
    final class Bucket {
        var entries: [String: (revision: UInt64, value: String)] = [:]
        var lastRevision: UInt64 = 0

        func write(_ key: String, _ value: String, expect: UInt64?) -> UInt64? {
            let current = entries[key]?.revision
            if let expect { guard current == expect else { return nil } } else { guard current == nil else { return nil } }
            lastRevision += 1
            entries[key] = (lastRevision, value)
            return lastRevision
        }

        func leases(_ partitions: Int) -> [Int: (revision: UInt64, lease: PartitionLease?)] {
            var read: [Int: (revision: UInt64, lease: PartitionLease?)] = [:]
            for partition in 0..<partitions {
                if let entry = entries[LeasePlanner.leaseKey(partition)] { read[partition] = (entry.revision, PartitionLease(text: entry.value)) }
            }
            return read
        }

        var presence: [String: UInt64] {
            var result: [String: UInt64] = [:]
            for (key, entry) in entries where key.hasPrefix("node.") { result[String(key.dropFirst(5))] = entry.revision }
            return result
        }
    }

    /// One tick of a node: presence, read, plan, write (as ClusterNode does).
    static func tick(_ planner: inout LeasePlanner, _ bucket: Bucket, now: Int64) {
        _ = bucket.write(LeasePlanner.presenceKey(planner.node), planner.address, expect: bucket.entries[LeasePlanner.presenceKey(planner.node)]?.revision)
        let live = planner.observePresence(bucket.presence, now: now)
        for action in planner.plan(leases: bucket.leases(planner.partitions), liveNodes: live, now: now) {
            let key = LeasePlanner.leaseKey(action.partition)
            let revision: UInt64?
            switch action {
            case .create: revision = bucket.write(key, planner.ownLease.text, expect: nil)
            case .take(_, let last), .renew(_, let last): revision = bucket.write(key, planner.ownLease.text, expect: last)
            case .release(_, let last): revision = bucket.write(key, PartitionLease.free.text, expect: last)
            }
            planner.completed(action, revision: revision, startedAt: now)
        }
    }

    func testLeaseTextRoundTrips() {
        let lease = PartitionLease(owner: "node-1", address: "/tmp/a b/meterd.sock")
        XCTAssertEqual(PartitionLease(text: lease.text), lease)
        XCTAssertEqual(PartitionLease(text: "free"), .free)
        XCTAssertNil(PartitionLease(text: "owner= address=x"))
        XCTAssertNil(PartitionLease(text: "garbage"))
    }

    func testAStaleRevisionLosesTheCompareAndSet() {
        let bucket = Bucket()
        var one = LeasePlanner(node: "n1", address: "a1", partitions: 1, leaseMilliseconds: 1_000)
        var two = LeasePlanner(node: "n2", address: "a2", partitions: 1, leaseMilliseconds: 1_000)
        // Both read "no key" and both try to create it: only the first write wins.
        let readOne = one.plan(leases: bucket.leases(1), liveNodes: 1, now: 0)
        let readTwo = two.plan(leases: bucket.leases(1), liveNodes: 1, now: 0)
        XCTAssertEqual(readOne, [.create(partition: 0)])
        XCTAssertEqual(readTwo, [.create(partition: 0)])
        one.completed(readOne[0], revision: bucket.write("partition.0", one.ownLease.text, expect: nil), startedAt: 0)
        two.completed(readTwo[0], revision: bucket.write("partition.0", two.ownLease.text, expect: nil), startedAt: 0)
        XCTAssertEqual(one.holds(now: 10), [0])
        XCTAssertEqual(two.holds(now: 10), [])
        // n2 sees n1's lease and does not take it while it is renewed.
        for now in stride(from: Int64(250), through: 5_000, by: 250) {
            Self.tick(&one, bucket, now: now)
            Self.tick(&two, bucket, now: now)
            XCTAssertEqual(one.holds(now: now), [0], "at \(now)")
            XCTAssertEqual(two.holds(now: now), [], "at \(now)")
        }
    }

    func testAnOwnerThatStopsRenewingLosesItsPartitionsToTheOthersOnlyAfterTheLease() {
        let bucket = Bucket()
        var nodes = (1...3).map { LeasePlanner(node: "n\($0)", address: "a\($0)", partitions: 8, leaseMilliseconds: 1_000) }
        var now: Int64 = 0
        for _ in 0..<40 {
            now += 250
            for index in nodes.indices { Self.tick(&nodes[index], bucket, now: now) }
        }
        // Balanced: ceil(8/3) = 3 at most each, every partition held by exactly one node.
        var held = nodes.map { $0.holds(now: now) }
        XCTAssertEqual(held.map(\.count).reduce(0, +), 8, "\(held)")
        XCTAssert(held.allSatisfy { $0.count <= 3 && $0.count >= 2 }, "\(held)")
        XCTAssertEqual(Set(held.flatMap { $0 }).count, 8)
        // n1 dies (stops ticking). Its partitions stay its own for a lease...
        let lost = held[0]
        let diedAt = now
        var takenAt: Int64?
        while now < diedAt + 5_000 {
            now += 250
            for index in 1...2 { Self.tick(&nodes[index], bucket, now: now) }
            let survivors = nodes[1].holds(now: now).union(nodes[2].holds(now: now))
            XCTAssertTrue(nodes[1].holds(now: now).isDisjoint(with: nodes[2].holds(now: now)))
            if now - diedAt < 1_000 { XCTAssertTrue(survivors.isDisjoint(with: lost), "taken before the lease ran out, at +\(now - diedAt) ms") }
            if takenAt == nil && survivors.count == 8 { takenAt = now - diedAt }
        }
        // ...then the two others take them, 4 each.
        held = nodes[1...2].map { $0.holds(now: now) }
        XCTAssertEqual(held.map(\.count), [4, 4], "\(held)")
        XCTAssertNotNil(takenAt)
        XCTAssertLessThanOrEqual(takenAt ?? .max, 2_500)
        // The dead node's own view: its holds ran out half a lease after its last write.
        XCTAssertEqual(nodes[0].holds(now: diedAt + 600), [])
    }

    func testANewNodeGetsItsShareFromANodeThatHeldEverything() {
        let bucket = Bucket()
        var one = LeasePlanner(node: "n1", address: "a1", partitions: 8, leaseMilliseconds: 1_000)
        var now: Int64 = 0
        for _ in 0..<4 {
            now += 250
            Self.tick(&one, bucket, now: now)
        }
        XCTAssertEqual(one.holds(now: now).count, 8)
        var two = LeasePlanner(node: "n2", address: "a2", partitions: 8, leaseMilliseconds: 1_000)
        for _ in 0..<40 {
            now += 250
            Self.tick(&one, bucket, now: now)
            Self.tick(&two, bucket, now: now)
            XCTAssertTrue(one.holds(now: now).isDisjoint(with: two.holds(now: now)))
        }
        XCTAssertEqual(one.holds(now: now).count, 4)
        XCTAssertEqual(two.holds(now: now).count, 4)
    }

    func testARestartedNodeTakesBackTheLeasesNamingIt() {
        let bucket = Bucket()
        var first = LeasePlanner(node: "n1", address: "a1", partitions: 2, leaseMilliseconds: 1_000)
        Self.tick(&first, bucket, now: 0)
        XCTAssertEqual(first.holds(now: 0), [0, 1])
        var restarted = LeasePlanner(node: "n1", address: "a1", partitions: 2, leaseMilliseconds: 1_000)
        Self.tick(&restarted, bucket, now: 100)
        XCTAssertEqual(restarted.holds(now: 100), [0, 1])
    }

    func testAReaderThatCouldNotReadTheBucketCountsExpiryAgainFromItsNextRead() {
        let bucket = Bucket()
        var one = LeasePlanner(node: "n1", address: "a1", partitions: 1, leaseMilliseconds: 1_000)
        var two = LeasePlanner(node: "n2", address: "a2", partitions: 1, leaseMilliseconds: 1_000)
        Self.tick(&one, bucket, now: 0)
        Self.tick(&two, bucket, now: 0)
        XCTAssertEqual(one.holds(now: 0), [0])
        // NATS is unreachable for 5 s: nobody reads or writes. Then n2 reads first.
        two.restartExpiryClocks()
        Self.tick(&two, bucket, now: 5_000)
        XCTAssertEqual(two.holds(now: 5_000), [], "n2 took a lease that nobody could renew")
        // n1 renews at its next tick; n2 never takes it.
        for now in stride(from: Int64(5_100), through: 8_000, by: 250) {
            Self.tick(&one, bucket, now: now)
            Self.tick(&two, bucket, now: now)
            XCTAssertEqual(two.holds(now: now), [], "at \(now)")
        }
        XCTAssertEqual(one.holds(now: 8_000), [0])
        // A reader that saw the same revision for a whole lease (n1 stopped at 8 s) takes it.
        var three = LeasePlanner(node: "n3", address: "a3", partitions: 1, leaseMilliseconds: 1_000)
        Self.tick(&three, bucket, now: 8_000)
        Self.tick(&three, bucket, now: 20_000)
        XCTAssertEqual(three.holds(now: 20_000), [0])
    }
}
