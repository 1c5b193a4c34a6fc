import MeterCore
import MeterEngine
import NIOConcurrencyHelpers

/// One event as the debugger shows it: what arrived and what became of it.
public struct RecentEvent: Sendable, Hashable {
    public var tenantId: String
    public var receivedAtMilliseconds: Int64
    /// `http` or `binary`.
    public var transport: String
    public var eventId: String
    public var eventName: String
    public var customerId: String
    public var timestampMilliseconds: Int64?
    public var properties: [EventProperty]
    public var result: EventResult
}

/// The last `capacity` events received, kept in memory only (never read back from the log), for
/// the console's event debugger. When full, the oldest entry is overwritten; memory is bounded
/// by the capacity and the request size limits.
public final class RecentEventLog: Sendable {
    public let capacity: Int
    private let storage: NIOLockedValueBox<(entries: [RecentEvent], next: Int)>

    public init(capacity: Int) {
        precondition(capacity > 0, "the recent-event log needs room for at least one event")
        self.capacity = capacity
        self.storage = NIOLockedValueBox((entries: [], next: 0))
    }

    public func record(_ events: [RecentEvent]) {
        storage.withLockedValue { storage in
            for event in events.suffix(capacity) {
                if storage.entries.count < capacity {
                    storage.entries.append(event)
                } else {
                    storage.entries[storage.next] = event
                }
                storage.next = (storage.next + 1) % capacity
            }
        }
    }

    /// Records one request's events (or why one did not decode) with their results, in order:
    /// the binary protocol's ingest observer calls this with transport `binary`.
    public func record(tenantId: String, transport: String, receivedAtMilliseconds: Int64,
                       events: [Result<UsageEvent, MeterError>], results: [EventResult]) {
        var entries: [RecentEvent] = []
        let start = Swift.max(0, Swift.min(events.count, results.count) - capacity)
        for index in start..<Swift.min(events.count, results.count) {
            let event = try? events[index].get()
            entries.append(RecentEvent(
                tenantId: tenantId, receivedAtMilliseconds: receivedAtMilliseconds, transport: transport, eventId: event?.eventId ?? "",
                eventName: event?.eventName ?? "", customerId: event?.customerId ?? "", timestampMilliseconds: event?.timestampMilliseconds,
                properties: event?.properties ?? [], result: results[index]))
        }
        record(entries)
    }

    /// The tenant's entries, newest first.
    public func entries(tenantId: String) -> [RecentEvent] {
        let (entries, next) = storage.withLockedValue { ($0.entries, $0.next) }
        let ordered = entries.count < capacity ? entries : Array(entries[next...] + entries[..<next])
        return ordered.reversed().filter { $0.tenantId == tenantId }
    }
}
