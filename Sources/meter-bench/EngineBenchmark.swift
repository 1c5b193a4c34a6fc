import MeterTestSupport
import Foundation
import MeterCore
import MeterEngine
import MeterLog

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


/// Replay from the log alone (no snapshot): the cost per event of rebuilding state at restart.
///
/// The data directory holds the log `EngineBenchmark.recovery` writes (batches of 1000 events,
/// 3 SUM meters, 10000 customers), created when missing and kept, with its snapshots removed.
/// Each repeat times, on one thread:
/// - reading the log (framing and checksums only),
/// - read + `RecordCodec.decode` + `apply` of the decoded `StateRecord` (the replay path
///   before decode-into-apply),
/// - read + `apply(logRecordType:payload:sequence:)` (decode-into-apply, what recovery does now;
///   its snapshot must equal the decoded path's),
/// and then `MeterEngine.open` on the directory (what a restart costs, replica thread included).
enum ReplayBenchmark {
    static func run(directory: String, events: Int, repeats: Int) async throws {
        if !hasLog(directory) {
            setenv("METERD_BENCH_KEEP", "1", 1)
            try await EngineBenchmark.recovery(directory: directory, events: events)
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasPrefix("snapshot-") {
            try FileManager.default.removeItem(atPath: directory + "/" + file)
        }
        print("== replay from the log alone: \(directory)")
        var columns: [String: [Double]] = [:]
        for _ in 0..<repeats {
            for (name, seconds, eventCount) in try replayOnce(directory: directory) {
                columns[name, default: []].append(Double(eventCount) / seconds)
                print("\(name): \(format(seconds * 1000)) ms, \(format(Double(eventCount) / seconds / 1e6)) million events/s")
            }
            var options = EngineOptions(dataDirectory: directory)
            options.snapshotEveryRecords = .max
            options.snapshotEverySeconds = 1 << 40
            var engine: MeterEngine?
            let elapsed = try ContinuousClock().measure { engine = try MeterEngine.open(options: options) }
            let seconds = EngineBenchmark.milliseconds(elapsed) / 1000
            let eventCount = Double(try await engine!.read { machine throws(MeterError) in
                machine.meters(tenantId: Tenant.defaultId).reduce(0) { $0 + $1.counters.counted }
            })
            columns["MeterEngine.open", default: []].append(eventCount / seconds)
            print("MeterEngine.open: \(format(seconds * 1000)) ms, \(format(eventCount / seconds / 1e6)) million events/s (\(engine!.recovery))")
            await engine!.shutdown()
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasPrefix("snapshot-") {
                try FileManager.default.removeItem(atPath: directory + "/" + file)
            }
        }
        print("-- medians of \(repeats) runs (million events/s):")
        for (name, rates) in columns.sorted(by: { $0.key < $1.key }) {
            print("\(name): \(format(median(rates) / 1e6))")
        }
    }

    static func hasLog(_ directory: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).contains { $0.hasPrefix("log-") && $0.hasSuffix(".wal") }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// One pass of each single-threaded replay variant: (name, seconds, events replayed).
    static func replayOnce(directory: String) throws -> [(String, Double, Int)] {
        var results: [(String, Double, Int)] = []
        let clock = ContinuousClock()
        let (log, _) = try SegmentedLog.open(directory: directory, options: LogOptions())
        defer { log.close() }
        // METERD_BENCH_REPLAY=bytes: only the decode-into-apply pass (for a profiler; `decoded`: only the other).
        if let only = getenv("METERD_BENCH_REPLAY"), String(cString: only) == "bytes" {
            let machine = MeterStateMachine()
            let elapsed = try clock.measure {
                try log.read(from: 1) { sequence, record in
                    try machine.apply(logRecordType: record.type, payload: record.payload, sequence: sequence)
                }
            }
            return [("read + apply(logRecordType:payload:) (decode-into-apply)", EngineBenchmark.milliseconds(elapsed) / 1000, Int(machine.lastAppliedSequence) * 1000)]
        }
        // METERD_BENCH_REPLAY=decoded: only the decode + apply(StateRecord) pass.
        if let only = getenv("METERD_BENCH_REPLAY"), String(cString: only) == "decoded" {
            let machine = MeterStateMachine()
            let elapsed = try clock.measure {
                try log.read(from: 1) { sequence, record in
                    machine.apply(try RecordCodec.decode(type: record.type, payload: record.payload), sequence: sequence)
                }
            }
            return [("read + decode + apply(StateRecord)", EngineBenchmark.milliseconds(elapsed) / 1000, Int(machine.lastAppliedSequence) * 1000)]
        }
        var bytes = 0
        var eventRecords = 0
        var elapsed = try clock.measure {
            try log.read(from: 1) { _, record in
                bytes &+= record.payload.count
                if record.type == RecordCodec.eventsAcceptedType { eventRecords += 1 }
            }
        }
        let events = eventRecords * 1000
        results.append(("log read only (\(bytes >> 20) MiB)", EngineBenchmark.milliseconds(elapsed) / 1000, events))

        let machine = MeterStateMachine()
        elapsed = try clock.measure {
            try log.read(from: 1) { sequence, record in
                machine.apply(try RecordCodec.decode(type: record.type, payload: record.payload), sequence: sequence)
            }
        }
        results.append(("read + decode + apply(StateRecord)", EngineBenchmark.milliseconds(elapsed) / 1000, events))
        let decodedState = machine.snapshot()

        let fromBytes = MeterStateMachine()
        elapsed = try clock.measure {
            try log.read(from: 1) { sequence, record in
                try fromBytes.apply(logRecordType: record.type, payload: record.payload, sequence: sequence)
            }
        }
        results.append(("read + apply(logRecordType:payload:) (decode-into-apply)", EngineBenchmark.milliseconds(elapsed) / 1000, events))
        if fromBytes.snapshot() != decodedState { print("ERROR: the two replays reached different snapshots") }
        return results
    }
}
