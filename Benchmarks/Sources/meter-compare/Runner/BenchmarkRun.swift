import MeterTestSupport
import Foundation

/// Runs every workload against every system and collects `BenchResults`. Systems take turns
/// point by point (not one system's whole series, then the next), so noise from the shared
/// machine falls on all of them alike and the ratios compare measurements taken side by side.
final class BenchmarkRun {
    let plan: BenchmarkPlan
    let seed: UInt64
    let systems: [any BenchSystem]
    /// meterd over its Unix socket: also used alone for the growth and restart measurements.
    let meterd: MeterdSystem
    private(set) var results: BenchResults
    private let sampleCustomers: [String]
    private let log: (String) -> Void

    init(plan: BenchmarkPlan, seed: UInt64, systems: [any BenchSystem], meterd: MeterdSystem, results: BenchResults, log: @escaping (String) -> Void) {
        self.plan = plan
        self.seed = seed
        self.systems = systems
        self.meterd = meterd
        self.results = results
        self.log = log
        var random = SplitMix64(seed: seed ^ 0xC0FFEE)
        sampleCustomers = ["cust-00000", "cust-00001"] + (0..<3).map { _ in EventGenerator.customerName(Int(random.next() % UInt64(plan.customers))) }
    }

    func runAll() throws -> BenchResults {
        let probe = try FsyncProbe.run(directory: meterd.directory, seconds: plan.fsyncProbeSeconds)
        log(String(format: "fsync probe (4 KiB writes + fdatasync into a preallocated file): %.0f syncs/s, p50 %.0f µs, p99 %.0f µs, max %.0f µs", probe.syncsPerSecond, probe.p50Microseconds, probe.p99Microseconds, probe.maxMicroseconds))
        results.fsyncProbe = probe
        try ingestAndLatency()
        try queriesAndRestarts()
        try growth()
        results.correct = results.correctness.allSatisfy(\.ok)
        return results
    }

    // MARK: Ingest matrix and latency

    private func ingestAndLatency() throws {
        let nowMs = Self.nowMs()
        let matrixEvents = plan.runsPerPoint * plan.ingestPoints.reduce(0) { $0 + $1.maxEvents }
        let latencyEvents = plan.latencyConnections.count * plan.latencyRates.reduce(0) { $0 + Int($1 * plan.latencySeconds) }
        let generator = EventGenerator(
            seed: seed, customers: plan.customers, startMs: nowMs - 3_600_000,
            stepMs: 3_000_000 / Double(matrixEvents + latencyEvents))
        var expected = Dictionary(uniqueKeysWithValues: systems.map { ($0.key, ExpectedUsage(sampleCustomers: Set(sampleCustomers))) })
        var measured: [Int: [String: (rates: [Double], events: [Int])]] = [:]
        var offset = 0
        for run in 1...plan.runsPerPoint {
            for (pointIndex, point) in plan.ingestPoints.enumerated() {
                let events = generator.events(offset..<(offset + point.maxEvents))
                offset += point.maxEvents
                for system in systems {
                    let counters = try commitCounters(system)
                    let outcome = try IngestWorkload.run(system, events: events, point: point)
                    try recordGroupCommits(system, since: counters, workload: "ingest batch \(point.batchSize) x \(point.connections) connections, run \(run)",
                                           events: outcome.acknowledgedEvents, seconds: outcome.seconds)
                    log(String(format: "ingest run %d, %@: %@ %.0f events/s (%d events in %.2f s)", run, point.description, system.label, outcome.eventsPerSecond, outcome.acknowledgedEvents, outcome.seconds))
                    measured[pointIndex, default: [:]][system.key, default: ([], [])].rates.append(outcome.eventsPerSecond)
                    measured[pointIndex, default: [:]][system.key, default: ([], [])].events.append(outcome.acknowledgedEvents)
                    for range in outcome.acknowledgedIndices { expected[system.key]!.add(events[range]) }
                    record(system, "ingest \(point), run \(run): new events reported / acknowledged, and new on resending a batch",
                           expected: "\(outcome.acknowledgedEvents) / \(outcome.acknowledgedEvents), 0", actual: "\(outcome.newEvents) / \(outcome.acknowledgedEvents), \(outcome.newEventsOnResend)")
                }
            }
        }
        for (pointIndex, point) in plan.ingestPoints.enumerated() {
            for system in systems {
                guard let series = measured[pointIndex]?[system.key] else { continue }
                results.ingest.append(BenchResults.IngestRun(
                    system: system.key, batchSize: point.batchSize, connections: point.connections,
                    eventsPerSecond: series.rates, events: series.events, medianEventsPerSecond: Self.median(series.rates)))
            }
        }
        for connections in plan.latencyConnections {
            for rate in plan.latencyRates {
                let count = Int(rate * plan.latencySeconds)
                let events = generator.events(offset..<(offset + count))
                offset += count
                for system in systems {
                    let counters = try commitCounters(system)
                    let began = monotonicSeconds()
                    let run = try LatencyWorkload.run(system, events: events, rate: rate, connections: connections)
                    try recordGroupCommits(system, since: counters, workload: String(format: "latency %.0f/s x %d connections", rate, connections),
                                           events: run.count, seconds: monotonicSeconds() - began)
                    log(String(format: "latency %@ at %.0f/s offered, %d connections: achieved %.0f/s, p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs", system.label, rate, connections, run.achievedPerSecond, run.p50Microseconds, run.p99Microseconds, run.p999Microseconds, run.maxMicroseconds))
                    results.latency.append(run)
                    expected[system.key]!.add(events)
                }
            }
        }
        let months = Set([UTCCivilDate.monthStart(generator.startMs), UTCCivilDate.monthStart(Self.nowMs())]).sorted()
        let firstDay = UTCCivilDate.dayStart(generator.startMs)
        let days = Int((UTCCivilDate.dayStart(Self.nowMs()) - firstDay) / UTCCivilDate.millisecondsPerDay) + 1
        for system in systems {
            try check(system, against: expected[system.key]!, phase: "after ingest and latency runs", months: months, firstDay: firstDay, days: days)
        }
    }

    /// meterd's commit counters before a run (nil for the other systems).
    private func commitCounters(_ system: any BenchSystem) throws -> (groupCommits: Int, syncs: Int)? {
        try (system as? MeterdSystem)?.commitCounters()
    }

    private func recordGroupCommits(_ system: any BenchSystem, since before: (groupCommits: Int, syncs: Int)?, workload: String, events: Int, seconds: Double) throws {
        guard let before, let after = try commitCounters(system) else { return }
        let commits = after.groupCommits - before.groupCommits
        let syncs = after.syncs - before.syncs
        results.groupCommits.append(BenchResults.GroupCommitRun(
            system: system.key, workload: workload, events: events, seconds: seconds, groupCommits: commits, syncs: syncs,
            groupCommitsPerSecond: seconds > 0 ? Double(commits) / seconds : 0,
            eventsPerGroupCommit: commits > 0 ? Double(events) / Double(commits) : 0))
    }

    // MARK: Queries and restarts

    private func queriesAndRestarts() throws {
        let queryKeys: Set<String> = ["meterd-unix", "postgres-copy", "redis-always"]
        let querySystems = systems.filter { queryKeys.contains($0.key) }
        for system in systems { try system.reset() }
        let nowMs = Self.nowMs()
        let span: Int64 = 30 * UTCCivilDate.millisecondsPerDay
        let generator = EventGenerator(
            seed: seed ^ 0x5EED_0F_DA7A, customers: plan.customers, startMs: nowMs - span,
            stepMs: Double(span - 600_000) / Double(plan.queryEvents))
        var expected = ExpectedUsage(sampleCustomers: Set(sampleCustomers))
        let chunk = min(200_000, plan.restartCheckpoint)
        var loaded = 0
        log("loading \(plan.queryEvents) events over 30 days into \(querySystems.map(\.label).joined(separator: ", "))")
        while loaded < plan.queryEvents {
            let events = generator.events(loaded..<min(loaded + chunk, plan.queryEvents))
            expected.add(events)
            for system in querySystems {
                results.loadSeconds[system.key, default: 0] += try IngestWorkload.load(system, events: events, batchSize: 1000, connections: 4)
            }
            loaded += events.count
            if loaded == plan.restartCheckpoint { try measureRestarts(events: loaded) }
        }
        results.queryEvents = loaded
        for system in querySystems {
            log(String(format: "loaded %@ in %.1f s", system.label, results.loadSeconds[system.key] ?? 0))
        }
        let monthStart = UTCCivilDate.monthStart(Self.nowMs())
        var random = SplitMix64(seed: seed ^ 0xABCD)
        let customers = (0..<plan.periodQueries).map { _ in EventGenerator.customerName(Int(random.next() % UInt64(plan.customers))) }
        let firstDay = UTCCivilDate.dayStart(Self.nowMs()) - 29 * UTCCivilDate.millisecondsPerDay
        for system in querySystems {
            let period = try QueryWorkload.periodOneCustomer(system, customers: customers, monthStartMs: monthStart, monthEndMs: UTCCivilDate.nextMonthStart(monthStart))
            let daily = try QueryWorkload.dailyAllCustomers(system, count: plan.dailyQueries, fromMs: firstDay)
            for run in [period, daily] {
                log(String(format: "query %@ %@: p50 %.0f µs, p99 %.0f µs", system.label, run.query, run.p50Microseconds, run.p99Microseconds))
                results.query.append(run)
            }
            let months = Set([UTCCivilDate.monthStart(generator.startMs), monthStart]).sorted()
            try check(system, against: expected, phase: "after loading \(loaded) events over 30 days", months: months, firstDay: firstDay, days: 30)
        }
        if plan.queryEvents != plan.restartCheckpoint { try measureRestarts(events: loaded) }
        try measureSnapshotPause(eventsInState: loaded)
    }

    /// The longest wait any request sees while meterd, holding the query workload's state,
    /// writes snapshots back to back (SnapshotPauseWorkload).
    private func measureSnapshotPause(eventsInState: Int) throws {
        let count = Int(plan.snapshotPauseRate * plan.snapshotPauseSeconds)
        let generator = EventGenerator(seed: seed ^ 0x5A95_7A05, customers: plan.customers, startMs: Self.nowMs() - 120_000, stepMs: 60_000 / Double(count))
        let run = try SnapshotPauseWorkload.run(meterd, events: generator.events(0..<count), eventsInState: eventsInState,
                                                rate: plan.snapshotPauseRate, connections: 8)
        log(String(format: "snapshot pause %@ with %d events in state: %d snapshots written in %.1f s; p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs", meterd.label, eventsInState, run.snapshotsWritten, run.seconds, run.p50Microseconds, run.p99Microseconds, run.p999Microseconds, run.maxMicroseconds))
        results.snapshotPause.append(run)
    }

    /// meterd's start-up time with this many events: after a clean stop (final snapshot), and
    /// with the snapshots deleted so the whole log is replayed.
    private func measureRestarts(events: Int) throws {
        meterd.halt()
        try meterd.start()
        results.restart.append(BenchResults.RestartRun(events: events, withSnapshot: true, seconds: meterd.lastStartSeconds))
        meterd.halt()
        let names = try FileManager.default.contentsOfDirectory(atPath: meterd.dataDirectory)
        for name in names where name.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: meterd.dataDirectory + "/" + name)
        }
        try meterd.start()
        results.restart.append(BenchResults.RestartRun(events: events, withSnapshot: false, seconds: meterd.lastStartSeconds))
        log(String(format: "meterd restart with %d events: %.2f s from a snapshot, %.2f s from the log alone", events, results.restart[results.restart.count - 2].seconds, meterd.lastStartSeconds))
    }

    // MARK: Growth

    private func growth() throws {
        for customers in plan.growthCustomers {
            try meterd.reset()
            let total = plan.growthEvents(customers)
            let generator = EventGenerator(seed: seed ^ UInt64(customers), customers: customers, startMs: Self.nowMs() - 3_600_000, stepMs: 3_000_000 / Double(total))
            var seconds = 0.0
            var sent = 0
            while sent < total {
                let events = generator.events(sent..<min(sent + 500_000, total))
                let outcome = try IngestWorkload.run(meterd, events: events, point: IngestPoint(batchSize: 1000, connections: 8, maxEvents: events.count, maxSeconds: .infinity))
                guard outcome.newEvents == events.count else { throw BenchError("growth: meterd counted \(outcome.newEvents) new of \(events.count)") }
                seconds += outcome.seconds
                sent += events.count
            }
            let resident = meterd.residentBytes() ?? 0
            results.growth.append(BenchResults.GrowthRun(customers: customers, events: sent, eventsPerSecond: Double(sent) / seconds, residentBytes: resident))
            log(String(format: "growth: %d customers, %d events, %.0f events/s, resident %.1f MiB", customers, sent, Double(sent) / seconds, Double(resident) / 1048576))
        }
    }

    // MARK: Correctness

    private func check(_ system: any BenchSystem, against expected: ExpectedUsage, phase: String, months: [Int64], firstDay: Int64, days: Int) throws {
        let connection = try system.connect()
        defer { connection.close() }
        var passed = 0
        for month in months {
            for meter in BenchMeter.allCases {
                for customer in sampleCustomers {
                    let actual = try connection.periodUsage(meter: meter, customer: customer, fromMs: month, toMs: UTCCivilDate.nextMonthStart(month))
                    let wanted = expected.periodUsage(meter: meter, customer: customer, monthStartMs: month)
                    record(system, "\(phase): \(meter.eventName) of \(customer) in the month from \(Self.date(month))", expected: "\(wanted)", actual: "\(actual)")
                    if actual == wanted { passed += 1 }
                }
            }
        }
        for meter in [BenchMeter.tokensUsed, .apiRequests] {
            let actual = try connection.dailyTotals(meter: meter, fromMs: firstDay, days: days)
            let wanted = expected.daily(meter: meter, fromMs: firstDay, days: days)
            record(system, "\(phase): \(meter.eventName) per day over \(days) days from \(Self.date(firstDay)), all customers", expected: wanted.map(String.init).joined(separator: " "), actual: actual.map(String.init).joined(separator: " "))
            if actual == wanted { passed += 1 }
        }
        log("correctness \(system.label) \(phase): \(passed) of \(months.count * BenchMeter.allCases.count * sampleCustomers.count + 2) answers equal the expected ones")
    }

    private func record(_ system: any BenchSystem, _ check: String, expected: String, actual: String) {
        results.correctness.append(BenchResults.CorrectnessCheck(system: system.key, check: check, expected: expected, actual: actual, ok: expected == actual))
    }

    // MARK: Helpers

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func date(_ ms: Int64) -> String {
        let (year, month, day) = UTCCivilDate.civil(dayNumber: ms / UTCCivilDate.millisecondsPerDay)
        return String(format: "%04d-%02d-%02d", year, month, day)
    }
}
