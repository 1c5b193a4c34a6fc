import Foundation
import MeterCore
import MeterEngine
import MeterTestSupport
import XCTest

/// A data directory path (not yet created: the engine makes it) inside a fresh temporary
/// directory, removed after the test.
final class DataDirectory {
    let path: String

    init(_ test: XCTestCase) {
        // mkdtemp failing is no test's subject: stop at once.
        let parent = try! TemporaryDirectory("meterd-engine", removedBy: { test.addTeardownBlock($0) })
        path = parent.file("data")
    }

    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Int64

    init(_ start: Int64) { now = start }

    func read() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return now
    }

    func advance(by milliseconds: Int64) {
        lock.lock()
        now += milliseconds
        lock.unlock()
    }
}

let engineStart: Int64 = 1_767_225_600_000

func options(_ directory: DataDirectory, clock: ManualClock? = nil) -> EngineOptions {
    var options = EngineOptions(dataDirectory: directory.path)
    options.segmentSizeBytes = 16 << 10
    let clock = clock ?? ManualClock(engineStart)
    options.clock = { clock.read() }
    return options
}

func usageEvent(_ id: String, customer: String = "acme", tokens: Int64, at timestamp: Int64 = engineStart, name: String = "tokens_used") -> UsageEvent {
    UsageEvent(eventId: id, eventName: name, customerId: customer, timestampMilliseconds: timestamp,
               properties: [EventProperty(key: "tokens", value: .integer(tokens))])
}

let tokensMeter = MeterDefinition(eventName: "tokens_used", displayName: "Tokens Used", aggregation: .sum("tokens"), reset: .monthly)

func total(_ engine: MeterEngine, meter: String = "tokens_used", from: Int64 = engineStart - 48 * 3_600_000, to: Int64 = engineStart + 3_600_000) async throws -> ExactDecimal? {
    let hour: Int64 = 3_600_000
    let query = UsageQuery(meter: .eventName(meter), fromMilliseconds: from / hour * hour, toMilliseconds: (to / hour + 1) * hour)
    return try await engine.usage(query).rows.first?.value
}

func stateBytes(_ engine: MeterEngine) async throws -> [UInt8] {
    try await engine.read { machine throws(MeterError) in machine.snapshot() }
}

/// The result of an engine call, for tests that inspect failures as values.
func outcome<Value>(_ body: () async throws(EngineError) -> Value) async -> Result<Value, EngineError> {
    do throws(EngineError) {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// The engine's status once no snapshot is being written (polled, with a 10 s deadline).
func settledStatus(_ engine: MeterEngine) async throws -> EngineStatus {
    let deadline = ContinuousClock.now + .seconds(10)
    while true {
        let status = await engine.status()
        if !status.snapshotInProgress { return status }
        guard ContinuousClock.now < deadline else {
            XCTFail("a snapshot did not finish in 10 s")
            return status
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}
