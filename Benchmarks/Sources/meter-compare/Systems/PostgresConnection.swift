import CPostgres
import Foundation

/// One libpq connection to a benchmark database, used by one thread at a time.
///
/// Ingest (`PostgresSystem.Mode`):
/// - insert: one multi-row `INSERT ... ON CONFLICT (event_id) DO NOTHING` per batch in
///   autocommit, so one durable commit per batch.
/// - copy: `BEGIN; COPY staging FROM STDIN; INSERT INTO events SELECT * FROM staging ON CONFLICT
///   (event_id) DO NOTHING; COMMIT` sent as one simple query, the COPY rows streamed in between:
///   one round trip and one durable commit per batch. `staging` is a temporary table of this
///   connection, emptied by `DELETE` inside the transaction (cheaper per batch than
///   `ON COMMIT DELETE ROWS`, which truncates the table's files at every commit).
///
/// Queries are plain SQL on `events`, filters applied at query time, exact numeric math.
final class PostgresConnection: BenchConnection, @unchecked Sendable {
    static let copyBatchQuery = "BEGIN; COPY staging FROM STDIN; "
        + "INSERT INTO events SELECT * FROM staging ON CONFLICT (event_id) DO NOTHING; DELETE FROM staging; COMMIT"

    let mode: PostgresSystem.Mode
    private var connection: OpaquePointer?
    /// The INSERT statement of `send`, NUL-terminated; reused between batches.
    private var statementBuffer: [UInt8] = []

    init(connectionString: String, mode: PostgresSystem.Mode) throws {
        self.mode = mode
        connection = PQconnectdb(connectionString)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(connection)
            self.connection = nil
            throw BenchError("PostgreSQL connect (\(connectionString)): \(message)")
        }
        // Notices ("database ... does not exist, skipping") would go to standard error.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        try execute("SET synchronous_commit = on")
        if mode == .copy {
            try execute("CREATE TEMP TABLE staging (LIKE events)")
        }
    }

    deinit { close() }

    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    func encode(_ events: ArraySlice<BenchEvent>) throws -> EncodedBatch {
        switch mode {
        case .insert: EncodedBatch(bytes: try PostgresBatchEncoding.insertStatement(events), eventCount: events.count)
        case .copy: EncodedBatch(bytes: try PostgresBatchEncoding.copyRows(events), eventCount: events.count)
        }
    }

    func send(_ batch: EncodedBatch) throws -> Int {
        guard batch.eventCount > 0 else { return 0 }
        switch mode {
        case .insert: return try sendInsert(batch)
        case .copy: return try sendCopy(batch)
        }
    }

    private func sendInsert(_ batch: EncodedBatch) throws -> Int {
        let connection = try openConnection()
        statementBuffer.removeAll(keepingCapacity: true)
        statementBuffer.append(contentsOf: batch.bytes)
        statementBuffer.append(0)
        let result = statementBuffer.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQexec(connection, $0.baseAddress) }
        }
        defer { PQclear(result) }
        try check(result, expecting: PGRES_COMMAND_OK, what: "INSERT")
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private func sendCopy(_ batch: EncodedBatch) throws -> Int {
        let connection = try openConnection()
        guard PQsendQuery(connection, Self.copyBatchQuery) == 1 else {
            throw BenchError("PostgreSQL COPY batch: \(String(cString: PQerrorMessage(connection)))")
        }
        var inserted: Int?
        var failure: String?
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COPY_IN:
                let sent = batch.bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
                }
                let ended = PQputCopyEnd(connection, sent == 1 ? nil : "could not send COPY data")
                if sent != 1 || ended != 1, failure == nil {
                    failure = String(cString: PQerrorMessage(connection))
                }
            case PGRES_COMMAND_OK:
                if String(cString: PQcmdStatus(result)).hasPrefix("INSERT") {
                    inserted = Int(String(cString: PQcmdTuples(result)))
                }
            default:
                if failure == nil { failure = String(cString: PQresultErrorMessage(result)) }
            }
        }
        if let failure {
            // An error ends the query string inside the open transaction: leave it.
            PQclear(PQexec(connection, "ROLLBACK"))
            throw BenchError("PostgreSQL COPY batch: \(failure)")
        }
        guard let inserted else { throw BenchError("PostgreSQL COPY batch: no INSERT result") }
        return inserted
    }

    func periodUsage(meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) throws -> Int64 {
        let query = "SELECT (\(Self.aggregate(meter)))::text FROM events"
            + " WHERE event_name = $1 AND customer_id = $2 AND ts >= $3 AND ts < $4" + (try Self.filterCondition(meter))
        let rows = try select(query, parameters: [
            meter.eventName, customer, UTCCivilDate.timestamp(fromMs), UTCCivilDate.timestamp(toMs),
        ])
        guard let text = rows.first?.first, let value = Int64(text) else {
            throw BenchError("PostgreSQL periodUsage: unexpected result \(rows)")
        }
        return value
    }

    func dailyTotals(meter: BenchMeter, fromMs: Int64, days: Int) throws -> [Int64] {
        let toMs = fromMs + Int64(days) * UTCCivilDate.millisecondsPerDay
        let query = "SELECT extract(epoch FROM date_trunc('day', ts AT TIME ZONE 'UTC'))::bigint, (\(Self.aggregate(meter)))::text"
            + " FROM events WHERE event_name = $1 AND ts >= $2 AND ts < $3" + (try Self.filterCondition(meter)) + " GROUP BY 1"
        let rows = try select(query, parameters: [meter.eventName, UTCCivilDate.timestamp(fromMs), UTCCivilDate.timestamp(toMs)])
        var totals = [Int64](repeating: 0, count: days)
        for row in rows {
            guard let seconds = Int64(row[0]), let value = Int64(row[1]) else {
                throw BenchError("PostgreSQL dailyTotals: unexpected row \(row)")
            }
            let index = (seconds * 1000 - fromMs) / UTCCivilDate.millisecondsPerDay
            if index >= 0 && index < Int64(days) { totals[Int(index)] += value }
        }
        return totals
    }

    /// Runs a statement that returns no rows.
    func execute(_ sql: String) throws {
        let result = PQexec(try openConnection(), sql)
        defer { PQclear(result) }
        try check(result, expecting: PGRES_COMMAND_OK, what: sql)
    }

    /// Runs a query with text parameters ($1, $2, ...) and returns its rows as text.
    func select(_ sql: String, parameters: [String] = []) throws -> [[String]] {
        let connection = try openConnection()
        let values = parameters.map { strdup($0) }
        defer { values.forEach { free($0) } }
        let result = values.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            PQexecParams(connection, sql, Int32(buffer.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, expecting: PGRES_TUPLES_OK, what: sql)
        return (0..<PQntuples(result)).map { row in
            (0..<PQnfields(result)).map { column in String(cString: PQgetvalue(result, row, column)) }
        }
    }

    /// SUM of the field as numeric (0 without rows), COUNT(*), or COUNT(DISTINCT field).
    static func aggregate(_ meter: BenchMeter) -> String {
        let field = meter.field ?? ""
        switch meter.aggregation {
        case .sum: return "COALESCE(SUM((properties->>'\(field)')::numeric), 0)"
        case .count: return "COUNT(*)"
        case .countUnique: return "COUNT(DISTINCT properties->>'\(field)')"
        }
    }

    /// " AND properties->>'model' IN ('llama3.1','llama3.2')", or "" for a meter without filter.
    static func filterCondition(_ meter: BenchMeter) throws -> String {
        guard let filter = meter.filter else { return "" }
        let values = try filter.values.map(PostgresBatchEncoding.literal).joined(separator: ",")
        return " AND properties->>\(try PostgresBatchEncoding.literal(filter.key)) IN (\(values))"
    }

    private func openConnection() throws -> OpaquePointer {
        guard let connection else { throw BenchError("PostgreSQL connection is closed") }
        return connection
    }

    private func check(_ result: OpaquePointer?, expecting status: ExecStatusType, what: String) throws {
        guard let result else {
            throw BenchError("PostgreSQL \(what.prefix(80)): \(connection.map { String(cString: PQerrorMessage($0)) } ?? "closed")")
        }
        guard PQresultStatus(result) == status else {
            throw BenchError("PostgreSQL \(what.prefix(80)): \(String(cString: PQresultErrorMessage(result)))")
        }
    }
}
