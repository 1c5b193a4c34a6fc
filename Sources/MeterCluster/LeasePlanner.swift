/// A partition's lease as stored in the owners' key-value bucket: the owning node and the
/// client address it answers on, or free (released by its last owner).
public struct PartitionLease: Sendable, Equatable {
    /// The owning node's name; nil when the lease is free.
    public var owner: String?
    /// Where the owner answers clients (a Unix socket path or HOST:PORT); empty when free.
    public var address: String

    public init(owner: String?, address: String) {
        self.owner = owner
        self.address = address
    }

    public static let free = PartitionLease(owner: nil, address: "")

    /// "owner=NAME address=ADDRESS" or "free".
    public var text: String { owner.map { "owner=\($0) address=\(address)" } ?? "free" }

    /// Reads `text`; nil for anything else (treated as held by an unknown owner).
    public init?(text: String) {
        if text == "free" {
            self = .free
            return
        }
        guard text.hasPrefix("owner="), let space = text.firstIndex(of: " "),
              text[space...].hasPrefix(" address=") else { return nil }
        owner = String(text[text.index(text.startIndex, offsetBy: 6)..<space])
        address = String(text[text.index(space, offsetBy: 9)...])
        guard !(owner ?? "").isEmpty else { return nil }
    }
}

/// Decides, from what a node reads in the owners' bucket, which lease writes it makes: the
/// lease logic of partitioned cluster mode (docs/cluster.md, "Leases"), without NATS, so that
/// it can be tested alone. `ClusterNode` reads the bucket, calls `plan`, makes each write as a
/// compare-and-set on the key's revision and reports the outcome.
///
/// - A lease is **expired** when its revision has not changed for `leaseMilliseconds` of this
///   node's monotonic clock since this node first saw that revision (no clocks are compared
///   between machines). Owners renew every tick (a fraction of the lease), so a live owner's
///   revision keeps changing.
/// - A node **holds** a partition from a successful write (create, take or renew) until
///   `leaseMilliseconds / 2` after that write was started, unless renewed: a node that cannot
///   renew gives the partition up well before another node may take it; a renewal that fails
///   the compare-and-set (someone else wrote the key) loses it at once.
/// - **Balance**: each node aims for ceil(partitions / live nodes); live nodes are those whose
///   presence key changed within the lease. A node under its target takes free partitions,
///   then expired ones; a node over it releases one partition per tick (writes "free").
public struct LeasePlanner: Sendable {
    public let node: String
    public let address: String
    public let partitions: Int
    public let leaseMilliseconds: Int64

    /// A key's revision and when (this node's monotonic ms) it was first seen with it.
    private var seen: [String: (revision: UInt64, since: Int64)] = [:]
    /// Partitions this node holds: the revision it wrote and when that write was started.
    private var held: [Int: (revision: UInt64, writtenAt: Int64)] = [:]

    public init(node: String, address: String, partitions: Int, leaseMilliseconds: Int64) {
        self.node = node
        self.address = address
        self.partitions = partitions
        self.leaseMilliseconds = leaseMilliseconds
    }

    /// One write to the owners' bucket.
    public enum Action: Sendable, Equatable {
        /// The key does not exist: create it (fails if another node created it first).
        case create(partition: Int)
        /// Take a free or expired lease: update on `revision`.
        case take(partition: Int, revision: UInt64)
        /// Renew this node's lease: update on `revision`.
        case renew(partition: Int, revision: UInt64)
        /// Give a lease back (over target): write "free" on `revision`.
        case release(partition: Int, revision: UInt64)

        public var partition: Int {
            switch self {
            case .create(let partition), .take(let partition, _), .renew(let partition, _), .release(let partition, _): return partition
            }
        }
    }

    /// The key of partition `partition`'s lease.
    public static func leaseKey(_ partition: Int) -> String { "partition.\(partition)" }
    /// The key of a node's presence.
    public static func presenceKey(_ node: String) -> String { "node.\(node)" }

    /// The value this node writes when it takes or renews a lease.
    public var ownLease: PartitionLease { PartitionLease(owner: node, address: address) }

    /// Notes the presence keys read now (node name -> revision) and returns how many nodes are
    /// live: this one, and every other whose revision changed within the lease.
    public mutating func observePresence(_ revisions: [String: UInt64], now: Int64) -> Int {
        var live = 1
        for (name, revision) in revisions where name != node {
            if notice(Self.presenceKey(name), revision: revision, now: now) < leaseMilliseconds { live += 1 }
        }
        return live
    }

    /// How long (ms) `key` has had `revision`, as far as this node has seen.
    private mutating func notice(_ key: String, revision: UInt64, now: Int64) -> Int64 {
        if let entry = seen[key], entry.revision == revision { return now - entry.since }
        seen[key] = (revision, now)
        return 0
    }

    /// The target number of partitions per node.
    public func target(liveNodes: Int) -> Int { (partitions + max(1, liveNodes) - 1) / max(1, liveNodes) }

    /// The writes to make now, given every partition's lease as read (`nil`: no such key;
    /// revision 0 never occurs for an existing key) and the number of live nodes.
    public mutating func plan(leases: [Int: (revision: UInt64, lease: PartitionLease?)], liveNodes: Int, now: Int64) -> [Action] {
        var renewals: [Action] = []
        var free: [Action] = []
        var expired: [Action] = []
        for partition in 0..<partitions {
            guard let read = leases[partition] else {
                held[partition] = nil
                free.append(.create(partition: partition))
                continue
            }
            let age = notice(Self.leaseKey(partition), revision: read.revision, now: now)
            if let mine = held[partition], mine.revision == read.revision {
                renewals.append(.renew(partition: partition, revision: read.revision))
                continue
            }
            held[partition] = nil
            switch read.lease {
            case .some(let lease) where lease.owner == nil:
                free.append(.take(partition: partition, revision: read.revision))
            case .some(let lease) where lease.owner == node:
                // Written by an earlier run of this node (restarted): take it back at once.
                free.append(.take(partition: partition, revision: read.revision))
            default:
                if age >= leaseMilliseconds { expired.append(.take(partition: partition, revision: read.revision)) }
            }
        }
        let target = target(liveNodes: liveNodes)
        var actions = renewals
        if renewals.count > target, let last = renewals.last {
            // Over target: give one back this tick (the highest-numbered), renew the rest.
            actions.removeLast()
            actions.append(.release(partition: last.partition, revision: { if case .renew(_, let revision) = last { revision } else { 0 } }()))
        } else if renewals.count < target {
            // Start at a place that depends on the node, so that nodes starting together
            // mostly try different partitions first.
            let rotation = ClusterPartitioning.partition(tenantId: "lease", customerId: node, partitions: max(1, partitions))
            let ordered = (free + expired).sorted { lhs, rhs in
                let freeL = free.contains(lhs), freeR = free.contains(rhs)
                if freeL != freeR { return freeL }
                return (lhs.partition - rotation + partitions) % partitions < (rhs.partition - rotation + partitions) % partitions
            }
            actions += ordered.prefix(target - renewals.count)
        }
        return actions
    }

    /// Reports a write's outcome: the new revision when the compare-and-set succeeded, nil when
    /// it failed (another node wrote the key first) or did not complete. `startedAt` is when the
    /// write was started (the time given to `plan`).
    public mutating func completed(_ action: Action, revision: UInt64?, startedAt: Int64) {
        switch action {
        case .create(let partition), .take(let partition, _), .renew(let partition, _):
            // A failed renewal (someone else wrote the key, or it did not get through) keeps
            // the old hold: it runs out on its own (`holds`) unless a later renewal succeeds,
            // and a revision written by another node drops it at the next plan.
            if let revision {
                held[partition] = (revision, startedAt)
                seen[Self.leaseKey(partition)] = (revision, startedAt)
            }
        case .release(let partition, _):
            held[partition] = nil
        }
    }

    /// The partitions this node holds now (written within half a lease).
    public func holds(now: Int64) -> Set<Int> {
        Set(held.filter { now - $0.value.writtenAt < leaseMilliseconds / 2 }.keys)
    }

    /// Whether this node holds `partition` now (`holds(now:)` for one partition).
    public func holds(_ partition: Int, now: Int64) -> Bool {
        guard let entry = held[partition] else { return false }
        return now - entry.writtenAt < leaseMilliseconds / 2
    }

    /// Forgets how long every key has kept its revision: after this node could not read the
    /// bucket (NATS unavailable), nobody could renew, so expiry is counted again from the next
    /// successful read (otherwise every lease would look expired the moment NATS came back).
    public mutating func restartExpiryClocks() { seen.removeAll() }

    /// Forgets a partition this node no longer applies (it stopped, or failed to rebuild it).
    public mutating func forget(_ partition: Int) { held[partition] = nil }
}
