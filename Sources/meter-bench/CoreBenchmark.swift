import MeterTestSupport
import Glibc
import MeterCore

/// Single-threaded apply throughput of the state machine, plus memory per bucket and per
/// remembered event id. Events are generated and encoded up front; only `apply` is timed.
enum CoreBenchmark {
    static func run(eventCount: Int, seed: UInt64) {
        // Memory first, while the heap is fresh (freed memory would hide growth later).
        measureMemory(seed: seed)
        print("== MeterCore apply: 3 meters, 10000 customers, random properties, \(eventCount) events, seed \(seed)")
        var random = SplitMix64(seed: seed)
        let machine = MeterStateMachine()
        var sequence: UInt64 = 0
        let start: Int64 = 1_767_225_600_000
        for definition in [
            MeterDefinition(eventName: "tokens_used", displayName: "Tokens", filters: [MeterFilter(key: "model", values: ["llama3.1", "llama3.2"])], aggregation: .sum("tokens"), reset: .monthly),
            MeterDefinition(eventName: "api_calls", displayName: "API calls", aggregation: .count),
            MeterDefinition(eventName: "storage_gb", displayName: "Storage", aggregation: Aggregation(kind: .maximum, field: "gb")),
        ] {
            sequence += 1
            machine.apply(.meterCreated(definition, atMilliseconds: start), sequence: sequence)
        }
        let names = ["tokens_used", "api_calls", "storage_gb"]
        let models = ["llama3.1", "llama3.2", "alpaca2.0"]
        let customers = (0..<10_000).map { "customer-\($0)" }
        let batchSize = 1000
        var records: [StateRecord] = []
        var id = 0
        // One hour of traffic: events spread over 60 minutes, accepted in time order.
        for batch in 0..<(eventCount / batchSize) {
            let now = start + Int64(batch) * 3_600_000 / Int64(eventCount / batchSize)
            var events: [UsageEvent] = []
            events.reserveCapacity(batchSize)
            for _ in 0..<batchSize {
                id += 1
                let name = names[Int(random.next() % 3)]
                var properties = [EventProperty(key: "model", value: .string(models[Int(random.next() % 3)]))]
                properties.append(EventProperty(key: "tokens", value: .integer(Int64(random.next() % 4000))))
                properties.append(EventProperty(key: "gb", value: .decimal(ExactDecimal(units: Int128(random.next() % 1_000_000_000_000)))))
                events.append(UsageEvent(eventId: "evt-\(id)", eventName: name, customerId: customers[Int(random.next() % 10_000)],
                                         timestampMilliseconds: now - Int64(random.next() % 5000), properties: properties))
            }
            records.append(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: now, events: events))
        }
        // Cold: tables grow (and the kernel hands out fresh pages) as ids and buckets arrive.
        let half = records.count / 2
        let heapBefore = heapBytes()
        let cold = time(records[..<half], machine: machine, sequence: &sequence)
        let heapAfter = heapBytes()
        // Warm: the same machine, next half of the hour; tables already large.
        let warm = time(records[half...], machine: machine, sequence: &sequence)
        let perHalf = Double(half * batchSize)
        print("apply, cold (first \(Int(perHalf)) events): \(format(perHalf / cold / 1e6)) million events/s, \(format(cold * 1e9 / perHalf)) ns/event")
        print("apply, warm (next \(Int(perHalf)) events): \(format(perHalf / warm / 1e6)) million events/s, \(format(warm * 1e9 / perHalf)) ns/event")
        print("resident memory growth during the cold half: \(format(Double(heapAfter - heapBefore) / 1_048_576)) MiB")
        // Repeats: events whose ids were all seen (duplicates) cost one dedup probe each.
        let duplicates = time(records[..<half], machine: machine, sequence: &sequence)
        print("apply of duplicates only: \(format(perHalf / duplicates / 1e6)) million events/s")
    }

    static func time(_ records: ArraySlice<StateRecord>, machine: MeterStateMachine, sequence: inout UInt64) -> Double {
        let clock = ContinuousClock()
        var next = sequence
        let elapsed = clock.measure {
            for record in records {
                next += 1
                machine.apply(record, sequence: next)
            }
        }
        sequence = next
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Bytes per remembered event id and per minute bucket, from the growth of the resident
    /// set. Both machines stay alive so freed memory is never reused between measurements.
    static func measureMemory(seed: UInt64) {
        let start: Int64 = 1_767_225_600_000
        let count = 200_000
        // Ids only: events for an event name without a meter touch nothing but the dedup index.
        let idsOnly = MeterStateMachine()
        let unmetered = (0..<count).map { UsageEvent(eventId: "0d5f6c2e-\(100_000_000 + $0)", eventName: "unmetered", customerId: "c\($0 % 1000)", timestampMilliseconds: start - Int64($0 / 1000) * 60_000) }
        let before = heapBytes()
        idsOnly.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: start, events: unmetered), sequence: 1)
        let idBytes = heapBytes() - before
        print("memory per remembered event id (18-byte ids): \(format(Double(idBytes) / Double(count))) bytes")
        // The same ids, now counted by a meter: one event per (customer, minute), so each opens a bucket.
        let withBuckets = MeterStateMachine()
        withBuckets.apply(.meterCreated(MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count), atMilliseconds: start), sequence: 1)
        let metered = unmetered.map { event -> UsageEvent in
            var copy = event
            copy.eventName = "calls"
            return copy
        }
        let middle = heapBytes()
        withBuckets.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: start, events: metered), sequence: 2)
        let bucketBytes = heapBytes() - middle - idBytes
        print("memory per (meter, customer, group, minute) bucket: \(format(Double(bucketBytes) / Double(count))) bytes (1000 series x 200 minutes)")
        // Distinct values: a COUNT_UNIQUE meter; every event opens its own bucket and set.
        let unique = MeterStateMachine()
        unique.apply(.meterCreated(MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "user")), atMilliseconds: start), sequence: 1)
        let uniqueEvents = unmetered.enumerated().map { index, event -> UsageEvent in
            var copy = event
            copy.eventName = "users"
            copy.properties = [EventProperty(key: "user", value: .string("user-\(100_000 + index % 200)"))]
            return copy
        }
        let beforeUnique = heapBytes()
        unique.apply(.eventsAccepted(tenantId: Tenant.defaultId, acceptedAtMilliseconds: start, events: uniqueEvents), sequence: 2)
        let uniqueBytes = heapBytes() - beforeUnique - idBytes - bucketBytes
        print("memory per COUNT_UNIQUE value kept in a bucket: \(format(Double(uniqueBytes) / Double(count))) bytes (12-byte values, one per bucket: the worst case, a set per value)")
        withExtendedLifetime((idsOnly, withBuckets, unique)) {}
    }

    /// Resident set size from /proc/self/statm (glibc's mallinfo is not visible to Swift).
    static func heapBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var size = 0, resident = 0
        guard withUnsafeMutablePointer(to: &size, { sizePointer in
            withUnsafeMutablePointer(to: &resident) { residentPointer in
                withVaList([sizePointer, residentPointer]) { vfscanf(file, "%ld %ld", $0) }
            }
        }) == 2 else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

func format(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return String(rounded)
}
