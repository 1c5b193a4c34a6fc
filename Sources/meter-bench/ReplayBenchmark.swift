import Foundation
import MeterCore
import MeterEngine
import MeterLog

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
