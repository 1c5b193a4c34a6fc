/// A meter as the state machine holds it: the definition plus its identity and life cycle.
public struct Meter: Hashable, Sendable {
    /// Server-generated stable id, `mtr_` followed by a decimal number assigned in log order.
    public var id: String
    public var definition: MeterDefinition
    public var status: MeterStatus
    public var createdAtMilliseconds: Int64
    public var archivedAtMilliseconds: Int64?
    /// Log position of the record that created the meter.
    public var createdSequence: UInt64
    public var counters: MeterCounters
    public var backfill: BackfillStatus

    public init(
        id: String, definition: MeterDefinition, status: MeterStatus, createdAtMilliseconds: Int64,
        archivedAtMilliseconds: Int64?, createdSequence: UInt64, counters: MeterCounters, backfill: BackfillStatus
    ) {
        self.id = id
        self.definition = definition
        self.status = status
        self.createdAtMilliseconds = createdAtMilliseconds
        self.archivedAtMilliseconds = archivedAtMilliseconds
        self.createdSequence = createdSequence
        self.counters = counters
        self.backfill = backfill
    }
}

/// Active meters count new events; archived ones keep their usage and stay queryable.
public enum MeterStatus: String, Hashable, Sendable {
    case active = "ACTIVE"
    case archived = "ARCHIVED"
}

/// What happened to the events that carried a meter's name.
public struct MeterCounters: Hashable, Sendable {
    /// Events aggregated into the meter.
    public var counted: UInt64 = 0
    /// Events with the meter's name that did not pass its filters.
    public var filteredOut: UInt64 = 0
    /// Events that passed the filters but lacked a numeric value in the aggregated field.
    public var missingValue: UInt64 = 0
    /// Events not counted because a sum would have left the supported range.
    public var overflowed: UInt64 = 0

    public init() {}
}

/// Progress of aggregating the events that were accepted before the meter existed.
public struct BackfillStatus: Hashable, Sendable {
    /// Log positions below this one were already in the log when the meter was created.
    public var targetSequence: UInt64 = 0
    /// Backfill has covered every position below this one.
    public var completedThroughSequence: UInt64 = 0
    /// Events counted by the backfill so far.
    public var eventsCounted: UInt64 = 0

    public init(targetSequence: UInt64 = 0, completedThroughSequence: UInt64 = 0, eventsCounted: UInt64 = 0) {
        self.targetSequence = targetSequence
        self.completedThroughSequence = completedThroughSequence
        self.eventsCounted = eventsCounted
    }

    public var isComplete: Bool { completedThroughSequence >= targetSequence }
}
