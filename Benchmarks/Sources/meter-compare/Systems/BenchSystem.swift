import Foundation

/// A system under test: a server the harness started on this machine (meterd, PostgreSQL,
/// Redis), with the meters of `BenchMeter` defined, and how to reach it.
///
/// Every system makes the same promise when a batch is acknowledged: its events are on disk
/// (fsync) and each event id is counted once, however often it is sent. Systems that promise
/// less say so in `label` (for example "Redis (everysec, weaker)").
protocol BenchSystem: AnyObject {
    /// Short label for tables and charts: "meterd (unix)", "PostgreSQL (COPY)", "Redis (always)".
    var label: String { get }
    /// Stable key for results: "meterd-unix", "postgres-copy", "redis-always".
    var key: String { get }
    /// Opens one connection. Each worker thread owns one connection.
    func connect() throws -> any BenchConnection
    /// Deletes every event and usage; the meters stay defined. Used between workloads.
    func reset() throws
    /// Resident memory of the server process in bytes, when known.
    func residentBytes() -> Int?
    /// Stops the server and removes its files.
    func stop()
}

/// Bytes (or text) prepared for one system ahead of the timed part of a run.
struct EncodedBatch: @unchecked Sendable {
    /// What is written to the system: a frame, SQL text, COPY data or RESP commands.
    var bytes: [UInt8]
    /// Events in the batch.
    var eventCount: Int
}

/// One connection to a system. Used by one thread at a time.
protocol BenchConnection: AnyObject {
    /// Turns events into what this system is sent for them. Called outside the timed part.
    func encode(_ events: ArraySlice<BenchEvent>) throws -> EncodedBatch
    /// Sends one batch and returns once the system acknowledged it durably.
    /// Returns how many events were new (not already counted under their event id).
    func send(_ batch: EncodedBatch) throws -> Int
    /// Usage of `meter` for one customer over [fromMs, toMs): a calendar month in UTC.
    /// SUM: total tokens; COUNT: events; COUNT_UNIQUE: distinct users.
    func periodUsage(meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) throws -> Int64
    /// Totals of `meter` (tokens_used or api_requests) over all customers, one per UTC day,
    /// for `days` days starting at `fromMs` (a UTC midnight).
    func dailyTotals(meter: BenchMeter, fromMs: Int64, days: Int) throws -> [Int64]
    func close()
}

/// A failure of a system or of the harness, with what went wrong in words.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
