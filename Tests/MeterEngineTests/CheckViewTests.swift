import Foundation
import MeterCore
import MeterEngine
import XCTest

/// CheckEntitlement answered from the view the writer publishes (`EntitlementCheckView`): the
/// same answers as the check on the writer, and no waiting behind the writer's work.
final class CheckViewTests: XCTestCase {
    final class Answer: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var usage: ExactDecimal?
        var remaining: ExactDecimal?
    }

    private static let daily = ResetPolicy.periodic(period: .daily, anchorMilliseconds: engineStart)

    /// The writer is held before applying a group (its log write and sync done, its reply not
    /// sent): a check queued for the writer could only be answered after it is released, so the
    /// check must come from the view, with the last acknowledged state.
    func testACheckIsAnsweredWhileTheWriterIsHeldWithTheAcknowledgedState() async throws {
        let directory = DataDirectory(self)
        let gate = HookGate()
        var configured = options(directory)
        configured.beforeApply = { gate.hold() }
        let engine = try MeterEngine.open(options: configured)
        let meter = try await engine.createMeter(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: Self.daily))
        _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: nil, limit: ExactDecimal(100),
                                                    enforcement: .hard, actor: .bootstrap))
        _ = try await engine.ingest(events: [usageEvent("e1", tokens: 5)])
        let first = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")
        XCTAssertEqual(first.usage, ExactDecimal(5))
        _ = try await engine.ingest(events: [usageEvent("e2", tokens: 3)])

        gate.arm(1)
        let acknowledged = DispatchSemaphore(value: 0)
        engine.ingest(events: [usageEvent("e3", tokens: 10)]) { _ in acknowledged.signal() }
        let held = await Task.detached { gate.reached.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(held, .success, "the writer did not reach the third ingest's apply")

        let hitsBefore = engine.checkView.counts.hits
        let answer = Answer()
        Task.detached {
            let check = try? await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")
            answer.usage = check?.usage
            answer.remaining = check?.remaining
            answer.done.signal()
        }
        let answered = await Task.detached { answer.done.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(answered, .success, "the check waited for the held writer")
        XCTAssertEqual(answer.usage, ExactDecimal(8), "e1 and e2 (acknowledged) count, e3 (not applied, not acknowledged) does not")
        XCTAssertEqual(answer.remaining, ExactDecimal(92))
        XCTAssertEqual(engine.checkView.counts.hits, hitsBefore + 1)
        XCTAssertEqual(acknowledged.wait(timeout: .now()), .timedOut, "the third ingest was acknowledged while its apply was held")

        gate.release.signal()
        if answered != .success { _ = await Task.detached { answer.done.wait(timeout: .now() + 10) }.value }
        let third = await Task.detached { acknowledged.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(third, .success)
        // Acknowledged, so the view has it.
        XCTAssertNotNil(try engine.checkFromView(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme",
                                                 atMilliseconds: engineStart, answer: { $0 }))
        let after = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")
        XCTAssertEqual(after.usage, ExactDecimal(18))
        await engine.shutdown()
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.lock(); value += 1; lock.unlock() }
        func read() -> Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// Checks from the view while ingests are acknowledged one by one on other tasks: every
    /// check counts at least every event acknowledged before it started, and never more than
    /// was sent; at the end it counts them all.
    func testConcurrentChecksSeeEveryAcknowledgedWrite() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        let meter = try await engine.createMeter(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: Self.daily))
        _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: nil, limit: ExactDecimal(1000),
                                                    enforcement: .hard, actor: .bootstrap))
        _ = try await engine.ingest(events: [usageEvent("seed", tokens: 1)])
        _ = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")  // watches the meter
        let acknowledged = Counter()
        acknowledged.increment()
        let writers = 4, perWriter = 50
        let ingests = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for number in 0..<perWriter {
                            _ = try await engine.ingest(events: [usageEvent("w\(writer)-\(number)", tokens: 1)])
                            acknowledged.increment()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var checks = 0, viewed = 0
        let hitsBefore = engine.checkView.counts.hits
        let sent = writers * perWriter + 1
        while acknowledged.read() < sent {
            let before = acknowledged.read()
            let usage = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme").usage
            XCTAssertGreaterThanOrEqual(usage, ExactDecimal(Int64(before)), "a check missed an acknowledged write")
            XCTAssertLessThanOrEqual(usage, ExactDecimal(Int64(sent)))
            checks += 1
        }
        try await ingests.value
        viewed = Int(engine.checkView.counts.hits - hitsBefore)
        XCTAssertEqual(viewed, checks, "every check of the watched customer came from the view")
        let final = try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "acme")
        XCTAssertEqual(final.usage, ExactDecimal(Int64(sent)))
        XCTAssertGreaterThan(checks, 0)
        await engine.shutdown()
    }

    /// A randomized sequence of ingests (late events included), clock moves across period
    /// boundaries, entitlement and grant changes: after each step, every check through the view
    /// equals the check on the writer, for three meters (daily SUM, CUMULATIVE MAX, daily
    /// COUNT_UNIQUE), six customers and instants now, in the past and in the future.
    func testTheViewAnswersAsTheWriterOverARandomizedSequence() async throws {
        let directory = DataDirectory(self)
        let clock = ManualClock(engineStart + 3_600_000)
        let engine = try MeterEngine.open(options: options(directory, clock: clock))
        var meters: [Meter] = []
        meters.append(try await engine.createMeter(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens"), reset: Self.daily)))
        meters.append(try await engine.createMeter(MeterDefinition(eventName: "peak_used", displayName: "Peak", aggregation: Aggregation(kind: .maximum, field: "tokens"), reset: .cumulative)))
        meters.append(try await engine.createMeter(MeterDefinition(eventName: "sizes_used", displayName: "Sizes", aggregation: Aggregation(kind: .countUnique, field: "tokens"), reset: Self.daily)))
        for meter in meters {
            _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: nil, limit: ExactDecimal(40),
                                                        enforcement: .hard, actor: .bootstrap))
        }
        let customers = (0..<6).map { "c\($0)" }  // c5 never has usage
        var random: UInt64 = 0x5EED_0017
        func next(_ bound: Int) -> Int {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((random >> 33) % UInt64(bound))
        }
        var grants: [String] = []
        var eventNumber = 0
        var compared = 0, fromView = 0, pastFallbacks = 0
        for step in 0..<250 {
            let now = clock.read()
            switch next(20) {
            case 0..<10:
                let meter = meters[next(meters.count)]
                let events = (0..<(1 + next(4))).map { _ -> UsageEvent in
                    eventNumber += 1
                    // A fifth are late, up to 20 h back (often in the previous day).
                    let at = next(5) == 0 ? now - Int64(next(20 * 60)) * 60_000 : now - Int64(next(60)) * 1000
                    return usageEvent("e\(eventNumber)", customer: customers[next(5)], tokens: Int64(1 + next(12)), at: at,
                                      name: meter.definition.eventName)
                }
                _ = try await engine.ingest(events: events)
            case 10..<13:
                clock.advance(by: Int64(1 + next(8 * 60)) * 60_000)
            case 13..<15:
                let meter = meters[next(meters.count)]
                let customer: String? = next(3) == 0 ? nil : customers[next(6)]
                _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: customer,
                                                            limit: ExactDecimal(Int64(5 + next(60))), enforcement: next(2) == 0 ? .hard : .soft,
                                                            actor: .bootstrap))
            case 15:
                let meter = meters[next(meters.count)]
                _ = try? await engine.change(.removeEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: customers[next(6)], actor: .bootstrap))
            case 16..<18:
                let meter = meters[next(meters.count)]
                let from = now + Int64(next(12 * 60) - 6 * 60) * 60_000
                let change = try await engine.change(.addGrant(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: customers[next(6)],
                                                               amount: ExactDecimal(Int64(1 + next(20))), effectiveFromMilliseconds: from,
                                                               expiresAtMilliseconds: next(2) == 0 ? nil : from + Int64(1 + next(24 * 60)) * 60_000,
                                                               actor: .bootstrap))
                if case .grantAdded(let grant) = change { grants.append(grant.id) }
            default:
                if !grants.isEmpty {
                    let id = grants.remove(at: next(grants.count))
                    _ = try await engine.change(.removeGrant(tenantId: Tenant.defaultId, grantId: id, actor: .bootstrap))
                }
            }
            let current = clock.read()
            for meter in meters {
                for reference in [MeterReference.id(meter.id), .eventName(meter.definition.eventName)] {
                    for customer in customers {
                        let instants = [current, current - Int64(next(30 * 60)) * 60_000, current + Int64(next(48 * 60)) * 60_000]
                        for instant in instants {
                            let onWriter = await result { () async throws(EngineError) in
                                try await engine.checkEntitlementOnWriter(tenantId: Tenant.defaultId, meter: reference, customerId: customer, atMilliseconds: instant)
                            }
                            // The public check (the view when it covers it; else the writer, which publishes the customer).
                            let checked = await result { () async throws(EngineError) in
                                try await engine.checkEntitlement(tenantId: Tenant.defaultId, meter: reference, customerId: customer, atMilliseconds: instant)
                            }
                            XCTAssertEqual(checked, onWriter, "step \(step), meter \(meter.id), \(customer) at \(instant)")
                            // And the view alone, now that the check may have published the customer.
                            let viewed: Result<EntitlementCheck, EngineError>?
                            do throws(EngineError) {
                                viewed = try engine.checkFromView(tenantId: Tenant.defaultId, meter: reference, customerId: customer,
                                                                  atMilliseconds: instant, answer: { $0 }).map { .success($0) }
                            } catch {
                                viewed = .failure(error)
                            }
                            compared += 1
                            if let viewed {
                                fromView += 1
                                XCTAssertEqual(viewed, onWriter, "view: step \(step), meter \(meter.id), \(customer) at \(instant)")
                            } else if instant < current {
                                pastFallbacks += 1
                            }
                        }
                    }
                }
            }
        }
        // The view must have answered most checks, or the comparison proves little.
        XCTAssertGreaterThan(fromView, compared / 2, "view answered \(fromView) of \(compared); \(pastFallbacks) past instants went to the writer")
        XCTAssertGreaterThan(engine.checkView.count, 0)
        await engine.shutdown()
    }

    private func result<Value>(_ body: () async throws(EngineError) -> Value) async -> Result<Value, EngineError> {
        do throws(EngineError) {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}
