// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import Foundation
import Logging

/// Trims the log stream behind the shared snapshots (docs/cluster.md, "Trimming"), on the
/// node holding partition 0's lease, when `--cluster-retain-seconds` is set. A message is
/// purged only when all of these hold:
///
/// 1. every scope (each partition and the meta engine) has a snapshot that verifies (chunks,
///    length, CRC-32C) covering it: whoever takes a partition or starts a node replays only
///    after those, and the exactly-once index travels in them;
/// 2. those snapshots also cover the meta subject's last record: a meter created after a
///    partition's snapshot makes a taker of that partition rebuild from the stream's start, so
///    nothing is trimmed while such a meter is not yet in every snapshot (once the stream is
///    trimmed, new meters are refused: `ClusterLog`);
/// 3. it is older than the retention (at least 30 s: longer than a publish is ever retried with
///    its message id, 20 s, so JetStream's duplicate detection never needs a purged message).
///
/// Before its first purge the trimmer **announces** trimming (key `trimming` in
/// `<stream>_SETTINGS`, kept for good) and purges only once it has seen the announcement for
/// `announcementSeconds` (30 to 60) with the conditions above still holding: from the
/// announcement on, new meters are refused (`ClusterLog`), and a meter whose creation was
/// checked just before it has been published by then (a publish is given up after 20 s), so
/// condition 2 sees it.
///
/// Purges with the JetStream purge API up to, not including, a sequence (never 1: NATS 2.9
/// purges everything for it).
final class StreamTrimmer: @unchecked Sendable {
    private let connection: JetStreamConnection
    private let snapshots: PartitionSnapshots
    private let options: ClusterOptions
    private let metaSubject: String
    private let trims: @Sendable () -> Bool
    private let logger: Logger
    private let settings: KeyValueBucket
    /// How long the announcement must have been seen before the first purge.
    private let announcementSeconds: Int64
    /// When this trimmer first saw the announcement (monotonic milliseconds; nil: not yet).
    private var announcementSeenAt: Int64?
    private let condition = NSCondition()
    private var stopping = false
    private var running = false

    /// What one pass decided.
    enum Outcome: Equatable, Sendable {
        /// Purged the messages below `below` (the stream's first sequence was `from`).
        case trimmed(below: UInt64, from: UInt64)
        /// Nothing to purge yet, and why.
        case waiting(String)
    }

    /// The key of `<stream>_SETTINGS` announcing trimming (new meters are refused from then on).
    static let announcementKey = "trimming"

    /// - Parameters:
    ///   - settings: the bucket `<stream>_SETTINGS`.
    ///   - announcementSeconds: how long the announcement must have been seen before the first
    ///     purge; default the retention, within 30 to 60 s.
    ///   - trims: whether this node trims now (it holds partition 0's lease).
    init(connection: JetStreamConnection, snapshots: PartitionSnapshots, options: ClusterOptions, metaSubject: String,
         settings: KeyValueBucket, announcementSeconds: Int64? = nil, logger: Logger, trims: @escaping @Sendable () -> Bool) {
        self.settings = settings
        self.announcementSeconds = announcementSeconds ?? max(30, min(60, options.retainSeconds))
        self.connection = connection
        self.snapshots = snapshots
        self.options = options
        self.metaSubject = metaSubject
        self.trims = trims
        self.logger = logger
    }

    /// Starts the thread that tries a pass every sixth of the retention (1 to 60 s).
    func start() {
        condition.withLock { running = true }
        let thread = Thread { [self] in
            let interval = Double(min(60, max(1, options.retainSeconds / 6)))
            while true {
                condition.lock()
                if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
                let stop = stopping
                condition.unlock()
                if stop { break }
                if trims() { _ = trimOnce() }
            }
            condition.withLock {
                running = false
                condition.broadcast()
            }
        }
        thread.name = "meterd-trimmer"
        thread.start()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    /// One pass: decides the highest sequence below which every message may go and purges them.
    func trimOnce(now: Date = Date()) -> Outcome {
        let stream = options.streamName
        let first: UInt64
        do {
            first = try connection.sequences(stream: stream).first
        } catch {
            return .waiting("\(error)")
        }
        // 1. Every scope's best verified snapshot.
        var covered = UInt64.max
        var lowest = SnapshotScope.meta
        for scope in [SnapshotScope.meta] + (0..<options.partitions).map(SnapshotScope.partition) {
            guard let loaded = snapshots.loadNewest(scope, firstSequence: first) else { return .waiting("\(scope) has no snapshot that verifies") }
            if loaded.manifest.streamSequence < covered {
                covered = loaded.manifest.streamSequence
                lowest = scope
            }
        }
        // 2. ... covering the last meta record.
        switch connection.lastMessage(stream: stream, subject: metaSubject) {
        case .success(let last?) where last.sequence > covered:
            return .waiting("the snapshot of \(lowest) covers through \(covered), before the meta record at \(last.sequence)")
        case .success: break
        case .failure(let error): return .waiting("\(error)")
        }
        guard covered >= first else { return .waiting("nothing below sequence \(covered + 1) is left to trim") }
        // 3. ... and older than the retention: the last such message, by binary search over the
        // stored messages' timestamps (stream order is time order).
        let cutoff = Int64((now.timeIntervalSince1970 - Double(options.retainSeconds)) * 1_000_000_000)
        var low = first, high = covered
        var oldEnough: UInt64?
        while low <= high {
            let middle = low + (high - low) / 2
            let message: StoredMessage?
            switch connection.message(stream: stream, sequence: middle) {
            case .success(let found): message = found
            case .failure(let error): return .waiting("\(error)")
            }
            // A missing message (purged meanwhile) counts as old.
            if message.map({ $0.timestampNanoseconds <= cutoff }) ?? true {
                oldEnough = middle
                low = middle + 1
            } else {
                if middle == 0 { break }
                high = middle - 1
            }
        }
        guard let last = oldEnough else { return .waiting("no message covered by every snapshot is older than \(options.retainSeconds) s") }
        let below = last + 1
        guard below > first, below > 1 else { return .waiting("nothing below sequence \(below) is left to trim") }
        if let waiting = announce() { return waiting }
        if case .failure(let error) = connection.purge(stream: stream, subject: nil, below: below) { return .waiting("\(error)") }
        // Tests and operators read this line.
        print("meterd: cluster node \(options.nodeName) trimmed stream \(stream) below sequence \(below) (it started at \(first); "
              + "every snapshot covers through \(covered) or later; retention \(options.retainSeconds) s)")
        fflush(nil)
        logger.info("trimmed the cluster log", metadata: ["below": "\(below)", "from": "\(first)", "covered": "\(covered)"])
        return .trimmed(below: below, from: first)
    }

    /// Announces trimming (once for the cluster) and says to wait until this trimmer has seen
    /// the announcement for `announcementSeconds`; nil once it has.
    private func announce() -> Outcome? {
        let now = SnapshotSchedule.monotonicMilliseconds()
        if announcementSeenAt == nil {
            switch settings.get(Self.announcementKey) {
            case .success(.some): break
            case .success(nil):
                let text = "announced by \(options.nodeName) at \(ISO8601DateFormatter().string(from: Date()))"
                if case .failure(let error) = settings.create(Self.announcementKey, text), case .success(nil) = settings.get(Self.announcementKey) {
                    return .waiting("cannot announce trimming: \(error)")
                }
                // Tests and operators read this line.
                print("meterd: cluster node \(options.nodeName) announced trimming of stream \(options.streamName): new meters are refused from now on")
                fflush(nil)
            case .failure(let error): return .waiting("cannot read the trimming announcement: \(error)")
            }
            announcementSeenAt = now
        }
        let waited = now - announcementSeenAt!
        guard waited >= announcementSeconds * 1000 else {
            return .waiting("trimming was announced \(waited / 1000) s ago; the first purge waits \(announcementSeconds) s")
        }
        return nil
    }
}
#endif
