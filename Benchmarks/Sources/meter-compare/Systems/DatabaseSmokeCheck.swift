import Foundation

/// End-to-end check of the PostgreSQL and Redis adapters on real servers (`meter-compare
/// smoke-databases`): ingest, exactly-once, reset and every query, compared with values computed
/// from the events in Swift.
enum DatabaseSmokeCheck {
    static let november2026Ms: Int64 = 1_793_491_200_000
    static let december2026Ms: Int64 = 1_796_083_200_000
    static let october2026Ms: Int64 = november2026Ms - 31 * UTCCivilDate.millisecondsPerDay
    static let batchSize = 100

    /// Starts a PostgreSQL cluster and both Redis servers in `workDirectory`, checks the four
    /// systems, stops everything. Returns one line per check; throws on the first mismatch.
    static func run(workDirectory: String) throws -> [String] {
        // The brief's events (33 minutes from Nov 1, the first ones jittered into October), and
        // the same number spread over 30 days into December, to cross days and months.
        let events = EventGenerator(seed: 7, customers: 50, startMs: november2026Ms, stepMs: 1000).events(0..<2000)
            + EventGenerator(seed: 8, customers: 50, startMs: november2026Ms, stepMs: 1_300_000).events(0..<2000)
        var lines: [String] = []
        var stoppers: [() -> Void] = []
        defer { for stop in stoppers.reversed() { stop() } }

        let cluster = try PostgresCluster(directory: workDirectory + "/postgres")
        stoppers.append(cluster.stop)
        lines.append("started \(cluster.settingsDescription)")
        var systems: [any BenchSystem] = []
        for mode in [PostgresSystem.Mode.insert, .copy] {
            let system = try PostgresSystem(cluster: cluster, mode: mode)
            stoppers.append(system.stop)
            systems.append(system)
        }
        for durability in [RedisSystem.Durability.always, .everysec] {
            let system = try RedisSystem(directory: workDirectory + "/redis-\(durability.rawValue)", durability: durability)
            stoppers.append(system.stop)
            lines.append("started \(system.settingsDescription)")
            systems.append(system)
        }
        lines += try checkSettings(cluster: cluster, redisSystems: systems.compactMap { $0 as? RedisSystem })
        for system in systems {
            lines += try check(system, events: events)
        }
        return lines
    }

    /// Reads the durability settings back from the running servers.
    private static func checkSettings(cluster: PostgresCluster, redisSystems: [RedisSystem]) throws -> [String] {
        var lines: [String] = []
        let postgres = try PostgresConnection(connectionString: cluster.connectionString(database: "postgres"), mode: .insert)
        defer { postgres.close() }
        var shown: [String] = []
        for (name, value) in PostgresCluster.settings + [("listen_addresses", ""), ("port", String(PostgresCluster.port))] {
            let actual = try postgres.select("SHOW \(name)").first?.first ?? "?"
            try expect(actual == value, "PostgreSQL \(name) is \(actual), expected \(value)")
            shown.append("\(name)=\(actual)")
        }
        for name in ["wal_sync_method", "wal_level", "lc_collate", "server_encoding"] {
            shown.append("\(name)=\(try postgres.select("SHOW \(name)").first?.first ?? "?")")
        }
        lines.append("PostgreSQL settings read back: " + shown.joined(separator: ", "))
        for system in redisSystems {
            let connection = try RedisConnection(socketPath: system.server.socketPath)
            defer { connection.close() }
            var redisShown: [String] = []
            for (name, value) in [("appendonly", "yes"), ("appendfsync", system.durability.rawValue), ("save", ""), ("port", "0")] {
                guard case .array(let pair) = try connection.command(["CONFIG", "GET", name]), pair.count == 2,
                      case .text(let actual) = pair[1]
                else { throw BenchError("Redis CONFIG GET \(name): unexpected reply") }
                try expect(actual == value, "Redis \(system.key) \(name) is \(actual), expected \(value)")
                redisShown.append("\(name)=\(actual.isEmpty ? "\"\"" : actual)")
            }
            lines.append("\(system.key) settings read back: " + redisShown.joined(separator: ", "))
        }
        return lines
    }

    /// Ingest, resend, queries, reset and the script reload of one system.
    private static func check(_ system: any BenchSystem, events: [BenchEvent]) throws -> [String] {
        var lines: [String] = []
        let connection = try system.connect()
        defer { connection.close() }

        let encodeStart = Date()
        let batches = try stride(from: 0, to: events.count, by: batchSize).map { start in
            try connection.encode(events[start..<min(start + batchSize, events.count)])
        }
        let encodeSeconds = Date().timeIntervalSince(encodeStart)
        let sendStart = Date()
        var new = 0
        for batch in batches { new += try connection.send(batch) }
        let sendSeconds = Date().timeIntervalSince(sendStart)
        try expect(new == Set(events.map(\.id)).count, "\(system.key): \(new) new events, expected \(events.count)")
        let again = try connection.send(batches[0])
        try expect(again == 0, "\(system.key): first batch sent again counted \(again) new events, expected 0")
        lines.append(String(
            format: "%@: %d events in %d batches of %d: %d new (encode %.3f s, send %.3f s); first batch again: %d new",
            system.key, events.count, batches.count, batchSize, new, encodeSeconds, sendSeconds, again))

        var checks = 0
        let customers = Array(Set(events.prefix(3).map(\.customer))).sorted() + ["cust-00049"]
        let months = [(october2026Ms, november2026Ms), (november2026Ms, december2026Ms),
                      (december2026Ms, december2026Ms + 31 * UTCCivilDate.millisecondsPerDay)]
        var samples: [String] = []
        for customer in customers {
            for meter in BenchMeter.allCases {
                for (fromMs, toMs) in months {
                    let expected = expectedUsage(events, meter: meter, customer: customer, fromMs: fromMs, toMs: toMs)
                    let actual = try connection.periodUsage(meter: meter, customer: customer, fromMs: fromMs, toMs: toMs)
                    try expect(actual == expected, "\(system.key): periodUsage \(meter.eventName) \(customer) \(UTCCivilDate.monthStamp(fromMs)) = \(actual), expected \(expected)")
                    if fromMs == november2026Ms { samples.append("\(meter.eventName)=\(actual)") }
                    checks += 1
                }
            }
            samples.append("|")
        }
        lines.append("\(system.key): periodUsage \(checks) checks ok (\(customers.joined(separator: ", ")); months 202610, 202611, 202612); November: \(samples.dropLast().joined(separator: " "))")
        for meter in [BenchMeter.tokensUsed, .apiRequests] {
            let expected = expectedDailyTotals(events, meter: meter, fromMs: november2026Ms, days: 30)
            let actual = try connection.dailyTotals(meter: meter, fromMs: november2026Ms, days: 30)
            try expect(actual == expected, "\(system.key): dailyTotals \(meter.eventName) = \(actual), expected \(expected)")
            lines.append("\(system.key): dailyTotals \(meter.eventName) 30 days ok, total \(actual.reduce(0, +)), first days \(actual.prefix(3).map(String.init).joined(separator: ", "))")
        }
        let resident = system.residentBytes()
        try expect(resident != nil, "\(system.key): resident memory unknown")

        try system.reset()
        let afterReset = try connection.periodUsage(meter: .tokensUsed, customer: customers[0], fromMs: november2026Ms, toMs: december2026Ms)
        try expect(afterReset == 0, "\(system.key): usage after reset \(afterReset), expected 0")
        if let redis = connection as? RedisConnection { try redis.command(["SCRIPT", "FLUSH"]) }
        let resent = try connection.send(batches[0])
        try expect(resent == batches[0].eventCount, "\(system.key): after reset the first batch counted \(resent) new, expected \(batches[0].eventCount)")
        lines.append("\(system.key): resident \((resident ?? 0) / 1_048_576) MiB; reset ok (usage 0, first batch \(resent) new again\(connection is RedisConnection ? " after SCRIPT FLUSH" : ""))")
        try system.reset()
        return lines
    }

    /// The meter's usage computed from the events: SUM of amounts, COUNT, or distinct users.
    private static func expectedUsage(_ events: [BenchEvent], meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) -> Int64 {
        let counted = events.filter {
            $0.meter == meter && $0.customer == customer && $0.timestampMs >= fromMs && $0.timestampMs < toMs && $0.amount != nil
        }
        if meter.aggregation == .countUnique { return Int64(Set(counted.compactMap(\.uniqueValue)).count) }
        return counted.reduce(0) { $0 + $1.amount! }
    }

    private static func expectedDailyTotals(_ events: [BenchEvent], meter: BenchMeter, fromMs: Int64, days: Int) -> [Int64] {
        var totals = [Int64](repeating: 0, count: days)
        for event in events where event.meter == meter && event.timestampMs >= fromMs {
            guard let amount = event.amount else { continue }
            let day = Int((event.timestampMs - fromMs) / UTCCivilDate.millisecondsPerDay)
            if day < days { totals[day] += amount }
        }
        return totals
    }

    private static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw BenchError(message()) }
    }
}
