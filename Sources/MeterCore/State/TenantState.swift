/// What one tenant owns: its meters by event name, its customers and the event ids it has
/// accepted recently. Nothing here is reachable from another tenant.
///
/// Hot stored properties are marked `@exclusivity(unchecked)`: the state machine runs on one
/// thread and never overlaps two accesses to one of them, and the dynamic exclusivity checks of
/// class properties cost about 1000 instructions per applied event (see docs/component-benchmarks.md).
final class TenantState {
    let id: String
    /// The active meter for each event name (archived meters free their name).
    @exclusivity(unchecked) var activeMeterByEventName = StringTable<MeterState>()
    /// Customer ids interned to small numbers, in first-seen order.
    @exclusivity(unchecked) var customerIndex = StringTable<UInt32>()
    @exclusivity(unchecked) var customers: [String] = []
    /// Accepted event ids and when they were accepted, for exactly-once counting.
    @exclusivity(unchecked) var acceptedEventIds = StringTable<Int64>()
    /// The same ids in acceptance order, so they can expire oldest first.
    @exclusivity(unchecked) var expiryQueue: [(acceptedAtMilliseconds: Int64, eventId: String)] = []
    @exclusivity(unchecked) var expiryQueueHead = 0
    /// Accepted events that matched no active meter.
    @exclusivity(unchecked) var eventsWithoutMeter: UInt64 = 0

    init(id: String) {
        self.id = id
    }

    @inline(__always)
    func customerNumber(for customerId: String) -> UInt32 {
        customerIndex.value(for: customerId) {
            customers.append(customerId)
            return UInt32(customers.count - 1)
        }
    }

    /// Forgets ids accepted before `oldestKeptMilliseconds`.
    func expireEventIds(acceptedBefore oldestKeptMilliseconds: Int64) {
        while expiryQueueHead < expiryQueue.count,
              expiryQueue[expiryQueueHead].acceptedAtMilliseconds < oldestKeptMilliseconds {
            let entry = expiryQueue[expiryQueueHead]
            acceptedEventIds.update(entry.eventId) { acceptedAt in
                if acceptedAt == entry.acceptedAtMilliseconds { acceptedAt = nil }
            }
            expiryQueueHead += 1
        }
        // Compact once the consumed prefix dominates, keeping the amortized cost constant.
        if expiryQueueHead > 1024, expiryQueueHead * 2 > expiryQueue.count {
            expiryQueue.removeFirst(expiryQueueHead)
            expiryQueueHead = 0
        }
    }

    /// Whether `eventId` was accepted at or after `oldestKeptMilliseconds`.
    @inline(__always)
    func hasAccepted(_ eventId: String, since oldestKeptMilliseconds: Int64) -> Bool {
        guard let acceptedAt = acceptedEventIds.value(for: eventId) else { return false }
        return acceptedAt >= oldestKeptMilliseconds
    }

    /// Remembers `eventId` as accepted now unless it was accepted at or after
    /// `oldestKeptMilliseconds`; returns false (a duplicate) in that case. One probe.
    @inline(__always)
    func remember(_ eventId: String, acceptedAtMilliseconds: Int64, oldestKeptMilliseconds: Int64) -> Bool {
        let isNew = acceptedEventIds.update(eventId) { acceptedAt -> Bool in
            if let acceptedAt, acceptedAt >= oldestKeptMilliseconds { return false }
            acceptedAt = acceptedAtMilliseconds
            return true
        }
        if isNew { expiryQueue.append((acceptedAtMilliseconds, eventId)) }
        return isNew
    }
}
