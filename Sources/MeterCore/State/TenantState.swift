/// What one tenant owns: its meters by event name and its customers. (The event ids it accepted
/// are in the state machine's `EventIdIndex`, fingerprinted with the tenant id.) Nothing here is
/// reachable from another tenant.
///
/// Hot stored properties are marked `@exclusivity(unchecked)`: the state machine runs on one
/// thread and never overlaps two accesses to one of them, and the dynamic exclusivity checks of
/// class properties cost about 1000 instructions per applied event (see docs/component-benchmarks.md).
final class TenantState {
    let id: String
    /// The active meter for each event name (archived meters free their name).
    @exclusivity(unchecked) var activeMeterByEventName = StringTable<MeterState>()
    /// Customer ids interned to small numbers, in first-seen order (each id stored once).
    @exclusivity(unchecked) var customerIndex = InternedStrings()
    /// Customer ids by number.
    var customers: [String] { customerIndex.strings }
    /// Accepted events that matched no active meter.
    @exclusivity(unchecked) var eventsWithoutMeter: UInt64 = 0

    init(id: String) {
        self.id = id
    }

    @inline(__always)
    func customerNumber(for customerId: String) -> UInt32 {
        customerIndex.intern(customerId)
    }
}
