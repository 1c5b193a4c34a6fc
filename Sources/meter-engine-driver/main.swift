import Foundation
import Synchronization
import MeterCore
import MeterEngine
import UnixSignals

// meter-engine-driver: runs the engine in its own process so tests can kill it for real.
//
//   meter-engine-driver run    DATA ROUND WRITERS BATCH [MODE...]
//                                                         ingest until killed; prints "ACK round writer first count".
//                                                         MODE "churn": 8 KiB segments and a snapshot every 4 records,
//                                                         so segment preallocation and background snapshots are nearly
//                                                         always under way; "hold-snapshot": the first snapshot prints
//                                                         "SNAPSHOT sequence" and its thread then waits forever
//   meter-engine-driver resend DATA PLAN                  PLAN lines "round writer count": resend those events;
//                                                         prints "DUPLICATE id" / "ACCEPTED id" / "REJECTED id"
//   meter-engine-driver totals DATA                       prints "TOTAL customer count sum" per writer customer
//
// Events: id "r<round>-w<writer>-<n>", customer "c<writer>", value "<n mod 100>.25".
// SIGTERM triggers a graceful shutdown (exit 0); SIGKILL is what the crash test sends.

/// Writes one line with a single write(2): unbuffered (nothing lost to SIGKILL) and atomic on a pipe.
func emit(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: meter-engine-driver run|resend|totals DATA ...\n".utf8))
    exit(2)
}
let meterName = "crash_events"

func value(_ n: Int) -> ExactDecimal { ExactDecimal(units: Int128(n % 100) * 1_000_000_000 + 250_000_000) }

func makeEvent(round: Int, writer: Int, n: Int) -> UsageEvent {
    UsageEvent(eventId: "r\(round)-w\(writer)-\(n)", eventName: meterName, customerId: "c\(writer)",
               timestampMilliseconds: EngineOptions.systemClock(), properties: [EventProperty(key: "value", value: .decimal(value(n)))])
}

func openEngine(_ directory: String, modes: Set<String> = []) -> MeterEngine {
    var options = EngineOptions(dataDirectory: directory)
    options.snapshotEveryRecords = 400
    options.segmentSizeBytes = 256 << 10
    if modes.contains("churn") {
        options.segmentSizeBytes = 8 << 10
        options.snapshotEveryRecords = 4
        options.snapshotMinimumLogGrowth = 0
    }
    if modes.contains("hold-snapshot") {
        // The snapshot thread stops here for good; the writer must keep acknowledging.
        let held = Mutex(false)
        options.beforeSnapshotWrite = { sequence in
            let first = held.withLock { wasHeld in
                defer { wasHeld = true }
                return !wasHeld
            }
            guard first else { return }
            emit("SNAPSHOT \(sequence)")
            DispatchSemaphore(value: 0).wait()
        }
    }
    if let mode = ProcessInfo.processInfo.environment["METERD_DURABILITY"], let durability = Durability(parsing: mode) {
        options.durability = durability
    }
    do {
        return try MeterEngine.open(options: options)
    } catch {
        FileHandle.standardError.write(Data("meter-engine-driver: cannot open \(directory): \(error)\n".utf8))
        exit(1)
    }
}

func ensureMeter(_ engine: MeterEngine) async {
    let definition = MeterDefinition(eventName: meterName, displayName: "Crash events", aggregation: .sum("value"))
    do {
        _ = try await engine.createMeter(definition)
    } catch .rejected(let error) where error.code == .meterAlreadyExists {
    } catch {
        FileHandle.standardError.write(Data("meter-engine-driver: cannot create meter: \(error)\n".utf8))
        exit(1)
    }
}

/// SIGTERM shuts the engine down (swift-service-lifecycle's signal sequence; registered before
/// this returns, so a SIGTERM right after "READY" is never missed).
func installTerminationHandler(_ engine: MeterEngine) async {
    let signals = await UnixSignalsSequence(trapping: .sigterm)
    Task {
        for await _ in signals {
            // Writers see UNAVAILABLE and stop; `run` then waits for the shutdown to finish.
            await engine.shutdown()
            return
        }
    }
}

let directory = arguments[2]
switch arguments[1] {
case "run":
    let round = Int(arguments[3])!, writers = Int(arguments[4])!, batch = Int(arguments[5])!
    let engine = openEngine(directory, modes: Set(arguments.dropFirst(6)))
    await installTerminationHandler(engine)
    await ensureMeter(engine)
    emit("READY")
    await withTaskGroup(of: Void.self) { group in
        for writer in 0..<writers {
            group.addTask {
                var next = 0
                while true {
                    let events = (next..<(next + batch)).map { makeEvent(round: round, writer: writer, n: $0) }
                    do {
                        let results = try await engine.ingest(events: events)
                        guard results.allSatisfy({ if case .accepted(.counted) = $0 { true } else { false } }) else {
                            FileHandle.standardError.write(Data("unexpected results \(results)\n".utf8))
                            exit(3)
                        }
                        emit("ACK \(round) \(writer) \(next) \(batch)")
                        next += batch
                    } catch {
                        // Shutting down: stop sending.
                        return
                    }
                }
            }
        }
    }
    await engine.shutdown()
    emit("STOPPED")
case "resend":
    let plan = try! String(contentsOfFile: arguments[3], encoding: .utf8)
    let engine = openEngine(directory)
    await ensureMeter(engine)
    for line in plan.split(separator: "\n") {
        let fields = line.split(separator: " ").map { Int($0)! }
        let (round, writer, count) = (fields[0], fields[1], fields[2])
        var start = 0
        while start < count {
            let events = (start..<Swift.min(count, start + 500)).map { makeEvent(round: round, writer: writer, n: $0) }
            let results = try! await engine.ingest(events: events)
            for (event, result) in zip(events, results) {
                switch result {
                case .duplicate: emit("DUPLICATE \(event.eventId)")
                case .accepted: emit("ACCEPTED \(event.eventId)")
                case .rejected(let error): emit("REJECTED \(event.eventId) \(error)")
                }
            }
            start += 500
        }
    }
    await engine.shutdown()
case "totals":
    let engine = openEngine(directory)
    await ensureMeter(engine)
    let now = EngineOptions.systemClock()
    let hour: Int64 = 3_600_000
    let query = UsageQuery(meter: .eventName(meterName), fromMilliseconds: (now / hour - 48) * hour, toMilliseconds: (now / hour + 1) * hour, groupByCustomer: true)
    let rows = try! await engine.usage(query).rows
    for row in rows { emit("TOTAL \(row.customerId ?? "-") \(row.eventCount) \(row.value?.description ?? "none")") }
    let snapshot = try! await engine.read { machine throws(MeterError) in machine.snapshot() }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in snapshot { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    emit("STATE \(snapshot.count) \(String(hash, radix: 16))")
    await engine.shutdown()
default:
    FileHandle.standardError.write(Data("unknown command \(arguments[1])\n".utf8))
    exit(2)
}
