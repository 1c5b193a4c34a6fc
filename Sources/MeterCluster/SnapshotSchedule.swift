import Foundation

/// When an engine's next shared snapshot is due (docs/cluster.md, "Snapshots"): after
/// `everyRecords` records applied since the last one, or `everySeconds` after it with at
/// least one record applied. With `followStream` (trimming on, `--cluster-retain-seconds`)
/// also `everySeconds` after it when only other subjects' messages passed, so that an idle
/// partition's or the meta engine's snapshot keeps up with the stream and does not hold the
/// trimming back. Touched by one applier's thread at a time (then by the lease thread once that
/// applier stopped).
final class SnapshotSchedule: @unchecked Sendable {
    let everyRecords: UInt64
    let everySeconds: Int64
    let followStream: Bool
    /// Records of the engine's subjects applied since the last snapshot.
    var recordsSince: UInt64 = 0
    /// Messages of other subjects passed since the last snapshot.
    var skippedSince: UInt64 = 0
    private var lastAt: Int64

    init(everyRecords: UInt64, everySeconds: Int64, followStream: Bool) {
        self.everyRecords = everyRecords
        self.everySeconds = everySeconds
        self.followStream = followStream
        lastAt = Self.monotonicMilliseconds()
    }

    static func monotonicMilliseconds() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// Counts one message (`applied`: of the engine's subjects) and says whether a snapshot is due.
    func passed(applied: Bool) -> Bool {
        if applied { recordsSince += 1 } else { skippedSince += 1 }
        if recordsSince >= everyRecords { return true }
        guard Self.monotonicMilliseconds() - lastAt >= everySeconds * 1000 else { return false }
        return recordsSince > 0 || (followStream && skippedSince > 0)
    }

    /// A snapshot was captured now.
    func taken() {
        recordsSince = 0
        skippedSince = 0
        lastAt = Self.monotonicMilliseconds()
    }
}
