import MeterTestSupport
import Foundation
import MeterCore
import MeterEngine

/// Durable ingest through the engine (8 concurrent writers, fsync mode) in batches of 1, 100
/// and 1000, and recovery time of a large log with and without a snapshot.
enum EngineBenchmark {
    static func run(directory: String, recoveryEvents: Int) async throws {
        print("== MeterEngine: durable ingest, 8 concurrent writers, durability fsync, data in \(directory)")
        for (batch, requestsPerWriter) in [(1, 1500), (100, 300), (1000, 100)] {
            let path = directory + "/ingest-\(batch)"
            try? FileManager.default.removeItem(atPath: path)
            var options = EngineOptions(dataDirectory: path)
            options.snapshotEveryRecords = .max
            let engine = try MeterEngine.open(options: options)
            _ = try await engine.createMeter(MeterDefinition(eventName: "tokens_used", displayName: "Tokens", aggregation: .sum("tokens")))
            let prepared = (0..<8).map { writer in
                (0..<requestsPerWriter).map { request in
                    (0..<batch).map { index in
                        UsageEvent(eventId: "w\(writer)-\(request)-\(index)", eventName: "tokens_used", customerId: "customer-\((request * batch + index) % 10_000)",
                                   timestampMilliseconds: EngineOptions.systemClock(), properties: [EventProperty(key: "tokens", value: .integer(Int64(index)))])
                    }
                }
            }
            let before = await engine.status()
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            for events in prepared[writer] { _ = try await engine.ingest(events: events) }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let after = await engine.status()
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let events = Double(8 * requestsPerWriter * batch)
            let syncs = Double(after.syncs - before.syncs)
            print("batch \(batch): \(format(events / seconds)) durable events/s, \(format(Double(8 * requestsPerWriter) / seconds)) requests/s, "
                + "\(format(syncs / seconds)) fsyncs/s, \(format(Double(8 * requestsPerWriter) / Double(after.groupCommits - before.groupCommits))) requests per group commit")
            await engine.shutdown()
            try? FileManager.default.removeItem(atPath: path)
        }
        try await recovery(directory: directory + "/recovery", events: recoveryEvents)
    }

    static func recovery(directory: String, events: Int) async throws {
        print("== MeterEngine recovery: log of \(events) events (batches of 1000, 3 meters, 10000 customers)")
        try? FileManager.default.removeItem(atPath: directory)
        var options = EngineOptions(dataDirectory: directory)
        options.durability = .none
        options.snapshotEveryRecords = .max
        options.snapshotEverySeconds = 1 << 40
        var engine = try MeterEngine.open(options: options)
        for name in ["tokens_used", "api_calls", "storage_gb"] {
            _ = try await engine.createMeter(MeterDefinition(eventName: name, displayName: name, aggregation: .sum("value")))
        }
        let names = ["tokens_used", "api_calls", "storage_gb"]
        var random = SplitMix64(seed: 7)
        var sent = 0
        while sent < events {
            let now = EngineOptions.systemClock()
            let batch = (0..<1000).map { index in
                UsageEvent(eventId: "e\(sent + index)", eventName: names[Int(random.next() % 3)], customerId: "customer-\(random.next() % 10_000)",
                           timestampMilliseconds: now, properties: [EventProperty(key: "value", value: .integer(Int64(random.next() % 1000)))])
            }
            _ = try await engine.ingest(events: batch)
            sent += 1000
        }
        let live = try await engine.read { machine throws(MeterError) in machine.snapshot() }
        await engine.shutdown()   // writes a snapshot
        if getenv("METERD_BENCH_KEEP") != nil {
            print("kept \(directory): \(events) events and a snapshot; time its opening with `meter-bench open \(directory)`")
            return
        }

        options.durability = .fsync
        let clock = ContinuousClock()
        var elapsed = try clock.measure { engine = try MeterEngine.open(options: options) }
        print("recovery with a snapshot: \(format(milliseconds(elapsed))) ms (\(engine.recovery))")
        let fromSnapshot = try await engine.read { machine throws(MeterError) in machine.snapshot() }
        await engine.shutdown()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: directory + "/" + file)
        }
        elapsed = try clock.measure { engine = try MeterEngine.open(options: options) }
        let replayed = Double(engine.recovery.replayedRecords)
        print("recovery from the log alone: \(format(milliseconds(elapsed))) ms, \(format(Double(events) / (milliseconds(elapsed) / 1000) / 1e6)) million events/s replayed (\(Int(replayed)) records)")
        let fromLog = try await engine.read { machine throws(MeterError) in machine.snapshot() }
        print("state after both recoveries identical to the live state: \(fromSnapshot == live && fromLog == live)")
        await engine.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Times opening the engine on an existing data directory (snapshot load, log validation,
    /// replay), `repeats` times.
    static func open(directory: String, repeats: Int) async throws {
        var options = EngineOptions(dataDirectory: directory)
        options.snapshotEveryRecords = .max
        options.snapshotEverySeconds = 1 << 40
        for _ in 0..<repeats {
            var engine: MeterEngine?
            let elapsed = try ContinuousClock().measure { engine = try MeterEngine.open(options: options) }
            print("open: \(format(milliseconds(elapsed))) ms (\(engine!.recovery))")
            await engine!.shutdown()
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
