import Glibc
import MeterCore
import MeterTestSupport

/// The exactly-once index alone: memory per remembered event id (resident-set growth while
/// `idCount` distinct ids are applied, in batches of 1000 over one hour, to a state machine
/// without meters, so nothing but the index grows) and restart time, i.e. how long
/// `MeterStateMachine(snapshot:)` takes to load a snapshot holding those ids (from memory: the
/// file read is not included). Events are made batch by batch so they do not count as growth.
enum DedupBenchmark {
    static func run(idCount: Int) {
        print("== exactly-once index: \(idCount) distinct 36-character ids, batches of 1000 over one hour, no meter")
        var configuration = MeterCoreConfiguration()
        configureForBenchmark(&configuration, idCount: idCount)
        let machine = MeterStateMachine(configuration: configuration)
        let start: Int64 = 1_767_225_600_000
        let batches = Swift.max(1, idCount / 1000)
        let clock = ContinuousClock()
        let before = CoreBenchmark.heapBytes()
        var applied = Duration.zero
        for batch in 0..<batches {
            let now = start + Int64(batch) * 3_600_000 / Int64(batches)
            var events: [UsageEvent] = []
            events.reserveCapacity(1000)
            for offset in 0..<1000 {
                let number = batch * 1000 + offset
                events.append(UsageEvent(eventId: uuidLike(number), eventName: "unmetered", customerId: "c\(number % 1000)", timestampMilliseconds: now))
            }
            let record = StateRecord.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: events)
            applied += clock.measure { machine.apply(record, sequence: UInt64(batch + 1)) }
        }
        let grown = CoreBenchmark.heapBytes() - before
        let ids = Double(batches * 1000)
        print("memory per remembered id (resident-set growth): \(format(Double(grown) / ids)) bytes")
        reportIndexBytes(machine, ids: ids)
        print("apply (ids only): \(format(ids / seconds(applied) / 1e6)) million events/s")
        var bytes: [UInt8] = []
        let written = clock.measure { bytes = machine.snapshot() }
        print("snapshot: \(format(Double(bytes.count) / 1_048_576)) MiB, \(format(Double(bytes.count) / ids)) bytes per id, written in \(format(seconds(written))) s")
        var loaded: MeterStateMachine?
        // Five loads: the fastest and the median, since a shared machine only ever adds time.
        var loads: [Double] = []
        for _ in 0..<5 {
            loaded = nil
            loads.append(seconds(clock.measure { loaded = try? MeterStateMachine(snapshot: bytes, configuration: configuration) }))
        }
        guard let loaded else {
            print("snapshot did not load")
            return
        }
        loads.sort()
        print("restart (snapshot load) with \(Int(ids)) remembered ids: \(format(loads[2])) s (median of 5; fastest \(format(loads[0])) s)")
        print("reloaded state identical: \(loaded.snapshot() == bytes)")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A UUID-shaped id (8-4-4-4-12 hex digits) that is distinct for each number.
    static func uuidLike(_ number: Int) -> String {
        var random = SplitMix64(seed: UInt64(number))
        let high = random.next(), low = random.next() ^ UInt64(number)
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        for index in 0..<32 {
            if index == 8 || index == 12 || index == 16 || index == 20 { bytes.append(UInt8(ascii: "-")) }
            let word = index < 16 ? high : low
            bytes.append(digits[Int((word >> UInt64((index % 16) * 4)) & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension DedupBenchmark {
    static func configureForBenchmark(_ configuration: inout MeterCoreConfiguration, idCount: Int) {
        configuration.limits.dedupMaximumIds = Swift.max(configuration.limits.dedupMaximumIds, idCount)
    }

    static func reportIndexBytes(_ machine: MeterStateMachine, ids: Double) {
        let fill = machine.dedupIndexFill
        print("index's own count: \(format(Double(fill.bytes) / ids)) bytes per id (\(fill.entries) entries, \(format(Double(fill.bytes) / 1_048_576)) MiB)")
    }
}
