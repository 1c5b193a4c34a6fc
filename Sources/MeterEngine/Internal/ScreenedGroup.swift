import MeterCore
import MeterLog

/// One group commit on its way through the writer: the records screened from the commands
/// taken at once, how to answer each command, and where the group is in the pipeline.
struct ScreenedGroup {
    var records: [StateRecord] = []
    /// The records as the log stores them, one per record, in order.
    var logRecords: [LogRecord] = []
    var finishers: [Command.Finisher] = []
    /// Record indexes whose ingest request asked for entitlement effects, and where they go.
    var effectRequests: [Int: EntitlementEffects] = [:]
    /// Reads that run after the group is applied.
    var reads: [(MeterStateMachine) -> Void] = []
    /// Ids each tenant's requests in this group accepted (each set also looks up, without
    /// copying, the ids of the unapplied group before it).
    var pendingIds: [String: PendingEventIds] = [:]
    /// Customers and series this group's accepted events add to meters (for the quotas).
    var seriesLedger = SeriesLedger()
    /// The group creates, renames or archives a meter: nothing is screened behind it until it
    /// is applied, since screening reads the meters.
    var changesMeters = false
    /// Log positions once appended.
    var range: ClosedRange<UInt64>?
    /// Its fdatasync runs on the sync thread.
    var isWaitingForSync = false
    /// The group could not be written; every request in it gets this.
    var failure: EngineError?

    var hasRecords: Bool { !records.isEmpty }

    /// Accepted events in the group's records.
    var eventCount: Int {
        records.reduce(0) { total, record in
            if case .eventsAccepted(_, _, let events) = record { return total + events.count }
            return total
        }
    }

    mutating func append(_ record: StateRecord) {
        records.append(record)
        let encoded = RecordCodec.encode(record)
        logRecords.append(LogRecord(type: encoded.type, payload: encoded.payload))
    }
}
