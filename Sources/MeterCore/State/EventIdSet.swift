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
public struct PendingEventIds: EventIdSet {
    var table: StringTable<Bool>

    /// Room for `minimumCapacity` ids without growing (growing rehashes every id).
    public init(minimumCapacity: Int = 8) {
        table = StringTable(minimumCapacity: minimumCapacity)
    }

    public mutating func insertIfAbsent(_ eventId: String) -> Bool {
        table.update(eventId) { present -> Bool in
            if present != nil { return false }
            present = true
            return true
        }
    }
}

extension PendingEventIds: EventIdRemoving {
    /// Ids held.
    public var count: Int { table.count }

    /// Forgets `eventId` (an id whose request was refused after screening).
    public mutating func remove(_ eventId: String) {
        table.remove(eventId)
    }

    public mutating func forget(_ eventId: String) { remove(eventId) }
}
