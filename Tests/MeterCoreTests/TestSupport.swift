import MeterCore
import XCTest

/// 2026-01-01T00:00:00Z, a convenient "now" for tests.
let baseTime: Int64 = 1_767_225_600_000
let minute: Int64 = 60_000
let hour: Int64 = 3_600_000

func event(
    _ id: String, _ name: String = "tokens_used", customer: String = "acme", at timestamp: Int64 = baseTime,
    _ properties: [String: PropertyValue] = [:]
) -> UsageEvent {
    UsageEvent(eventId: id, eventName: name, customerId: customer, timestampMilliseconds: timestamp,
               properties: properties.sorted { $0.key < $1.key }.map { EventProperty(key: $0.key, value: $0.value) })
}

func decimal(_ text: String) -> ExactDecimal {
    try! ExactDecimal(parsing: text)
}

/// Drives a state machine the way the engine does, with increasing log positions.
final class Harness {
    let machine: MeterStateMachine
    var sequence: UInt64 = 0
    var records: [StateRecord] = []

    init(configuration: MeterCoreConfiguration = MeterCoreConfiguration()) {
        machine = MeterStateMachine(configuration: configuration)
    }

    @discardableResult
    func apply(_ record: StateRecord) -> ApplyOutcome {
        sequence += 1
        records.append(record)
        return machine.apply(record, sequence: sequence)
    }

    @discardableResult
    func create(_ definition: MeterDefinition, at time: Int64 = baseTime) throws -> Meter {
        try machine.validateCreate(definition)
        guard case .meterCreated(let meter) = apply(.meterCreated(definition, atMilliseconds: time)) else {
            XCTFail("meter was not created")
            throw MeterError(.invalidQuery, "not created")
        }
        return meter
    }

    /// Screens and applies a batch; returns the screening and the outcomes of accepted events.
    @discardableResult
    func ingest(_ events: [UsageEvent], tenant: String = Tenant.defaultId, now: Int64 = baseTime) -> (screening: [EventScreening], outcomes: [EventOutcome]) {
        var pending = Set<String>()
        let screening = machine.screen(events, tenantId: tenant, nowMilliseconds: now, pendingEventIds: &pending)
        let accepted = zip(events, screening).filter { $0.1 == .accept }.map(\.0)
        guard !accepted.isEmpty else { return (screening, []) }
        guard case .events(let outcomes) = apply(.eventsAccepted(tenantId: tenant, acceptedAtMilliseconds: now, events: accepted)) else {
            XCTFail("events not applied")
            return (screening, [])
        }
        return (screening, outcomes)
    }

    func total(_ meter: String, customer: String? = nil, from: Int64 = baseTime - 24 * hour, to: Int64 = baseTime + hour, tenant: String = Tenant.defaultId) throws -> ExactDecimal? {
        let result = try machine.usage(UsageQuery(tenantId: tenant, meter: .eventName(meter), fromMilliseconds: from, toMilliseconds: to, customerId: customer))
        XCTAssertEqual(result.rows.count, 1)
        return result.rows.first?.value
    }
}

func event(_ id: String, customer: String = "acme", at timestamp: Int64 = baseTime, _ properties: [String: PropertyValue]) -> UsageEvent {
    event(id, "tokens_used", customer: customer, at: timestamp, properties)
}
