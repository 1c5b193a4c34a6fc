/// What one tenant owns: its meters by event name, its customers and the event ids it has
/// accepted recently. Nothing here is reachable from another tenant.
final class TenantState {
    let id: String
    /// The active meter for each event name (archived meters free their name).
    var activeMeterByEventName: [String: MeterState] = [:]
    /// Customer ids interned to small numbers, in first-seen order.
    var customerIndex: [String: UInt32] = [:]
    var customers: [String] = []
    /// Accepted event ids and when they were accepted, for exactly-once counting.
    var acceptedEventIds: [String: Int64] = [:]
    /// The same ids in acceptance order, so they can expire oldest first.
    var expiryQueue: [(acceptedAtMilliseconds: Int64, eventId: String)] = []
    var expiryQueueHead = 0
    /// Accepted events that matched no active meter.
    var eventsWithoutMeter: UInt64 = 0

    init(id: String) {
        self.id = id
    }

    @inline(__always)
    func customerNumber(for customerId: String) -> UInt32 {
        if let number = customerIndex[customerId] { return number }
        let number = UInt32(customers.count)
        customers.append(customerId)
        customerIndex[customerId] = number
        return number
    }

    /// Forgets ids accepted before `oldestKeptMilliseconds`.
    func expireEventIds(acceptedBefore oldestKeptMilliseconds: Int64) {
        while expiryQueueHead < expiryQueue.count,
              expiryQueue[expiryQueueHead].acceptedAtMilliseconds < oldestKeptMilliseconds {
            let entry = expiryQueue[expiryQueueHead]
            if acceptedEventIds[entry.eventId] == entry.acceptedAtMilliseconds {
                acceptedEventIds[entry.eventId] = nil
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
        guard let acceptedAt = acceptedEventIds[eventId] else { return false }
        return acceptedAt >= oldestKeptMilliseconds
    }

    @inline(__always)
    func remember(_ eventId: String, acceptedAtMilliseconds: Int64) {
        acceptedEventIds[eventId] = acceptedAtMilliseconds
        expiryQueue.append((acceptedAtMilliseconds, eventId))
    }
}
