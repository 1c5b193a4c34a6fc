import Foundation
import Glibc
import MeterCore
import MeterEngine
import MeterTestSupport

/// Memory per active customer in the state machine, with the comparison benchmark's three
/// meters and its event mix (Benchmarks/Sources/meter-compare: 70% `tokens_used`, SUM of
/// `tokens` filtered on `model`; 20% `api_requests`, COUNT filtered on `method`; 10%
/// `active_users`, COUNT_UNIQUE of `user`; all monthly; 32-hex-digit event ids; three events per
/// customer spread over 50 minutes, as the growth scenario sends them).
///
/// Each scenario runs in a child process of its own (so memory freed by one never hides the
/// growth of the next) and reports the growth of the resident set over applying the events,
/// divided by the customers. The scenarios take the state apart:
///
/// - `ids`: no meter matches; only the exactly-once index grows.
/// - `intern`: one meter per event name whose filter matches nothing: the index plus the
///   customer ids interned per tenant (every event reaches its meter, none is counted).
/// - `tokens`, `api`, `users`: that one meter counting, the other two as in `intern`.
/// - `all`: the three meters, as in the benchmark.
/// - `engine`: the three meters in a `MeterEngine` with meterd's default options (log, fsync,
///   snapshots every 50,000 records), the events sent as ingest requests of 1000 from one
///   writer: the state plus what the engine holds (buffers, snapshot writing, the log's pages).
/// - `engine-nosnap`: the same with snapshots off (only by record count or time, never due here),
///   to tell what writing snapshots leaves resident.
///
/// Usage: `meter-bench customers [customers] [events-per-customer] [scenario]`.
enum CustomersBenchmark {
    static let scenarios = ["ids", "intern", "tokens", "api", "users", "all", "engine", "engine-nosnap"]

    static func run(arguments: [String]) throws {
        let customers = arguments.first.flatMap { Int($0) } ?? 1_000_000
        let eventsEach = arguments.dropFirst().first.flatMap { Int($0) } ?? 3
        if let scenario = arguments.dropFirst(2).first {
            guard scenarios.contains(scenario) else {
                print("unknown scenario \(scenario); known: \(scenarios.joined(separator: ", "))")
                exit(2)
            }
            if scenario.hasPrefix("engine") {
                try blocking { try await runEngine(customers: customers, eventsPerCustomer: eventsEach, snapshots: scenario == "engine") }
            } else {
                runScenario(scenario, customers: customers, eventsPerCustomer: eventsEach)
            }
            return
        }
        print("== MeterCore memory per active customer: \(customers) customers, \(eventsEach * customers) events, the benchmark's three meters")
        #if DEBUG
        print("(debug build: layout figures are the same as release; the apply rate is not)")
        #endif
        var results: [String: Result] = [:]
        for scenario in scenarios {
            let result = try child(scenario, customers: customers, eventsPerCustomer: eventsEach)
            results[scenario] = result
            print("\(scenario.padding(to: 7)) resident +\(format(Double(result.residentBytes) / 1_048_576)) MiB, "
                  + "\(format(Double(result.residentBytes) / Double(customers))) bytes/customer "
                  + "(exactly-once index \(format(Double(result.indexBytes) / Double(customers))) bytes/customer), "
                  + "apply \(format(result.eventsPerSecond / 1e6)) M events/s")
        }
        func perCustomer(_ bytes: Int) -> String { format(Double(bytes) / Double(customers)) }
        let ids = results["ids"]!.residentBytes, intern = results["intern"]!.residentBytes
        print("breakdown (bytes per customer, from the differences):")
        print("  exactly-once index (\(eventsEach) ids):     \(perCustomer(ids))")
        print("  customer ids interned per tenant:         \(perCustomer(intern - ids))")
        for (scenario, name) in [("tokens", "tokens_used (SUM, filtered)"), ("api", "api_requests (COUNT, filtered)"), ("users", "active_users (COUNT_UNIQUE)")] {
            print("  \(name.padding(to: 40)) \(perCustomer(results[scenario]!.residentBytes - intern))")
        }
        let all = results["all"]!.residentBytes
        print("  all three meters together, state only:    \(perCustomer(all - ids))")
        print("  everything (state and index):             \(perCustomer(all))")
        print("  through the engine (state, index, engine): \(perCustomer(results["engine"]!.residentBytes))")
        print("  the same, snapshots off:                   \(perCustomer(results["engine-nosnap"]!.residentBytes))")
    }

    struct Result {
        var residentBytes: Int
        var indexBytes: Int
        var eventsPerSecond: Double
    }

    /// Runs one scenario in a child process (this executable again) and reads its one line.
    static func child(_ scenario: String, customers: Int, eventsPerCustomer: Int) throws -> Result {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw BenchFailure("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        let arguments = ["meter-bench", "customers", String(customers), String(eventsPerCustomer), scenario]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nil, &argv, environ)
        close(pipeEnds[1])
        guard spawned == 0 else { throw BenchFailure("posix_spawn failed: \(spawned)") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count <= 0 { break }
            output += buffer[..<count]
        }
        close(pipeEnds[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let text = String(decoding: output, as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
        guard fields.count == 3 else { throw BenchFailure("scenario \(scenario) printed \(text)") }
        return Result(residentBytes: Int(fields[0]), indexBytes: Int(fields[1]), eventsPerSecond: fields[2])
    }

    /// Applies the scenario's events in batches of 1000 and prints "resident-growth index-bytes events/s".
    static func runScenario(_ scenario: String, customers: Int, eventsPerCustomer: Int) {
        let machine = MeterStateMachine()
        let start: Int64 = 1_767_225_600_000 + 3_600_000
        var sequence: UInt64 = 0
        // Meters that count nothing still intern every customer id that reaches them.
        func definitions(counting: Set<String>) -> [MeterDefinition] {
            func values(_ name: String, _ real: [String]) -> [String] { counting.contains(name) ? real : ["nothing-matches"] }
            return [
                MeterDefinition(eventName: "tokens_used", displayName: "Tokens Used",
                                filters: [MeterFilter(key: "model", values: values("tokens_used", ["llama3.1", "llama3.2"]))],
                                aggregation: .sum("tokens"), reset: .monthly),
                MeterDefinition(eventName: "api_requests", displayName: "API Requests",
                                filters: [MeterFilter(key: "method", values: values("api_requests", ["POST", "PUT"]))],
                                aggregation: .count, reset: .monthly),
                MeterDefinition(eventName: "active_users", displayName: "Active Users",
                                filters: counting.contains("active_users") ? [] : [MeterFilter(key: "user", values: ["nothing-matches"])],
                                aggregation: Aggregation(kind: .countUnique, field: "user"), reset: .monthly),
            ]
        }
        let meters: [MeterDefinition] = switch scenario {
        case "ids": []
        case "intern": definitions(counting: [])
        case "tokens": definitions(counting: ["tokens_used"])
        case "api": definitions(counting: ["api_requests"])
        case "users": definitions(counting: ["active_users"])
        default: definitions(counting: ["tokens_used", "api_requests", "active_users"])
        }
        for definition in meters {
            sequence += 1
            machine.apply(.meterCreated(definition, atMilliseconds: start - 3_600_000), sequence: sequence)
        }
        let total = customers * eventsPerCustomer
        let stepMs = 3_000_000 / Double(total)
        let generator = Generator(seed: 42 ^ UInt64(customers), customers: customers, startMs: start - 3_600_000, stepMs: stepMs)
        // One batch generated (and freed) before the baseline, so its garbage is in both readings.
        _ = generator.batch(0..<min(1000, total))
        let before = CoreBenchmark.heapBytes()
        var applying: Duration = .zero
        let clock = ContinuousClock()
        var next = 0
        while next < total {
            let range = next..<min(next + 1000, total)
            let events = generator.batch(range)
            let acceptedAt = generator.timestamp(range.upperBound - 1) + 2_000
            let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: acceptedAt, events: events)
            sequence += 1
            let began = clock.now
            machine.apply(record, sequence: sequence)
            applying += clock.now - began
            next = range.upperBound
        }
        let grown = CoreBenchmark.heapBytes() - before
        let seconds = Double(applying.components.seconds) + Double(applying.components.attoseconds) / 1e18
        print("\(grown) \(machine.dedupIndexFill.bytes) \(Double(total) / seconds)")
        withExtendedLifetime(machine) {}
    }

    /// The `engine` scenario: "resident-growth index-bytes events/s" of ingest through a MeterEngine.
    static func runEngine(customers: Int, eventsPerCustomer: Int, snapshots: Bool) async throws {
        let directory = NSTemporaryDirectory() + "meter-bench-customers-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = EngineOptions(dataDirectory: directory)
        if !snapshots {
            options.snapshotEveryRecords = .max
            options.snapshotEverySeconds = 1 << 40
        }
        let engine = try MeterEngine.open(options: options)
        for definition in [
            MeterDefinition(eventName: "tokens_used", displayName: "Tokens Used", filters: [MeterFilter(key: "model", values: ["llama3.1", "llama3.2"])],
                            aggregation: .sum("tokens"), reset: .monthly),
            MeterDefinition(eventName: "api_requests", displayName: "API Requests", filters: [MeterFilter(key: "method", values: ["POST", "PUT"])],
                            aggregation: .count, reset: .monthly),
            MeterDefinition(eventName: "active_users", displayName: "Active Users", aggregation: Aggregation(kind: .countUnique, field: "user"), reset: .monthly),
        ] {
            _ = try await engine.createMeter(definition)
        }
        let total = customers * eventsPerCustomer
        // The events' timestamps end a little before now, as the growth scenario's do.
        let generator = Generator(seed: 42 ^ UInt64(customers), customers: customers,
                                  startMs: EngineOptions.systemClock() - 3_600_000, stepMs: 3_000_000 / Double(total))
        _ = generator.batch(0..<min(1000, total))
        let before = CoreBenchmark.heapBytes()
        let clock = ContinuousClock()
        var next = 0
        let elapsed = try await clock.measure {
            while next < total {
                let range = next..<min(next + 1000, total)
                let results = try await engine.ingest(events: generator.batch(range))
                let accepted = results.filter { if case .accepted = $0 { true } else { false } }.count
                guard accepted == range.count else { throw BenchFailure("the engine accepted \(accepted) of \(range.count) events: \(results.first { if case .accepted = $0 { false } else { true } }!)") }
                next = range.upperBound
            }
        }
        let grown = CoreBenchmark.heapBytes() - before
        let index = try await engine.read { machine throws(MeterError) in machine.dedupIndexFill.bytes }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("\(grown) \(index) \(Double(total) / seconds)")
        await engine.shutdown()
    }

    /// The comparison benchmark's event generator (meter-compare's `EventGenerator`), producing
    /// `UsageEvent`s directly.
    struct Generator {
        let seed: UInt64
        let customers: Int
        let startMs: Int64
        let stepMs: Double
        static let models = ["llama3.1", "llama3.2", "llama3.3"]
        static let methods = ["GET", "POST", "PUT", "DELETE"]
        static let paths = ["/v1/chat", "/v1/embeddings", "/v1/files", "/v1/models"]
        static let usersPerCustomer = 40

        func timestamp(_ index: Int) -> Int64 { startMs + Int64(Double(index) * stepMs) }

        func batch(_ range: Range<Int>) -> [UsageEvent] { range.map(event) }

        func event(_ index: Int) -> UsageEvent {
            var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
            let id = hex(random.next()) + hex(random.next())
            let customer = Int(random.next() % UInt64(customers))
            let kind = random.next() % 10
            let jitter = Int64(random.next() % 2000)
            let name: String
            let properties: [EventProperty]
            switch kind {
            case 0..<7:
                name = "tokens_used"
                properties = [EventProperty(key: "model", value: .string(Self.models[Int(random.next() % 3)])),
                              EventProperty(key: "tokens", value: .integer(Int64(1 + random.next() % 4000)))]
            case 7..<9:
                name = "api_requests"
                properties = [EventProperty(key: "method", value: .string(Self.methods[Int(random.next() % 4)])),
                              EventProperty(key: "path", value: .string(Self.paths[Int(random.next() % 4)]))]
            default:
                name = "active_users"
                properties = [EventProperty(key: "user", value: .string("user-\(random.next() % UInt64(Self.usersPerCustomer))"))]
            }
            let digits = String(customer)
            let customerId = "cust-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
            return UsageEvent(eventId: id, eventName: name, customerId: customerId,
                              timestampMilliseconds: timestamp(index) - jitter, properties: properties)
        }

        private func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
    }

    struct BenchFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

private extension String {
    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
