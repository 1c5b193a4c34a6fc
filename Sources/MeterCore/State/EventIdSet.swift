/// A set of event ids that `MeterStateMachine.screen` fills with the ids a group commit is
/// about to accept. `PendingEventIds` is the fast one the engine uses; `Set<String>` works too.
public protocol EventIdSet {
    /// Adds `eventId`; returns false when it was already there.
    mutating func insertIfAbsent(_ eventId: String) -> Bool
}

/// An `EventIdSet` that can forget an id again (one whose event was refused after all).
public protocol EventIdRemoving {
    mutating func forget(_ eventId: String)
}

extension Set<String>: EventIdSet, EventIdRemoving {
    public mutating func forget(_ eventId: String) {
        remove(eventId)
    }

    @inlinable
    public mutating func insertIfAbsent(_ eventId: String) -> Bool {
        insert(eventId).inserted
    }
}

/// Event ids of one tenant accepted by the current group commit but not applied yet, by full id
/// in the fast string table the state machine uses for names and customers.
///
/// With the pipelined writer, the group before this one may also be accepted and not applied
/// yet: its ids are looked up (`previous`) but never copied in, so each group holds only its own
/// ids and screening costs the same however long the writer stays busy.
public struct PendingEventIds: EventIdSet {
    var table: StringTable<Bool>
    /// The own ids of the unapplied group before this one (shared, read only).
    private let previous: StringTable<Bool>?

    /// Room for `minimumCapacity` ids without growing (growing rehashes every id); `previous`
    /// is the set of the group accepted before this one and not applied yet.
    public init(minimumCapacity: Int = 8, after previous: PendingEventIds? = nil) {
        table = StringTable(minimumCapacity: minimumCapacity)
        self.previous = previous?.table
    }

    public mutating func insertIfAbsent(_ eventId: String) -> Bool {
        if let previous, previous.contains(eventId) { return false }
        return table.update(eventId) { present -> Bool in
            if present != nil { return false }
            present = true
            return true
        }
    }
}

extension PendingEventIds: EventIdRemoving {
    /// Ids this group accepted (not counting the previous group's).
    public var count: Int { table.count }

    /// Forgets `eventId`, one this group accepted (its request was refused after screening).
    public mutating func remove(_ eventId: String) {
        table.remove(eventId)
    }

    public mutating func forget(_ eventId: String) { remove(eventId) }
}
