/// PostgreSQL as a team would meter with it: a generic `events` table (properties as jsonb,
/// the event id as primary key for exactly-once), meters evaluated by SQL at query time.
///
/// Two systems share one `PostgresCluster` with separate databases so their data never mixes:
/// "postgres-insert" (multi-row INSERT per batch, database bench_insert) and "postgres-copy"
/// (COPY into a staging table, then INSERT ... SELECT, database bench_copy).
final class PostgresSystem: BenchSystem, @unchecked Sendable {
    /// How a batch is written.
    enum Mode: String, Sendable {
        case insert
        case copy
    }

    static let schema = [
        "CREATE TABLE events (event_id text PRIMARY KEY, event_name text NOT NULL, customer_id text NOT NULL,"
            + " ts timestamptz NOT NULL, properties jsonb NOT NULL)",
        "CREATE INDEX events_customer ON events (event_name, customer_id, ts)",
    ]

    let cluster: PostgresCluster
    let mode: Mode
    let database: String
    let key: String
    let label: String
    private var stopped = false
    /// One line for the results' system table.
    var durabilityDescription: String { "fsync before ack (synchronous_commit=on, one commit per batch)" }
    var settingsDescription: String {
        switch mode {
        case .insert: cluster.settingsDescription + "; one multi-row INSERT ... ON CONFLICT (event_id) DO NOTHING per batch, autocommit"
        case .copy: cluster.settingsDescription + "; per batch BEGIN; COPY staging FROM STDIN; INSERT INTO events SELECT * FROM staging ON CONFLICT (event_id) DO NOTHING; DELETE FROM staging; COMMIT"
        }
    }

    /// Creates the mode's database (bench_insert or bench_copy) with the schema.
    init(cluster: PostgresCluster, mode: Mode) throws {
        self.cluster = cluster
        self.mode = mode
        database = "bench_" + mode.rawValue
        switch mode {
        case .insert:
            key = "postgres-insert"
            label = "PostgreSQL (INSERT)"
        case .copy:
            key = "postgres-copy"
            label = "PostgreSQL (COPY)"
        }
        let administration = try PostgresConnection(connectionString: cluster.connectionString(database: "postgres"), mode: .insert)
        defer { administration.close() }
        try administration.execute("DROP DATABASE IF EXISTS \(database)")
        try administration.execute("CREATE DATABASE \(database)")
        let setup = try PostgresConnection(connectionString: cluster.connectionString(database: database), mode: .insert)
        defer { setup.close() }
        for statement in Self.schema { try setup.execute(statement) }
        cluster.retain()
    }

    func connect() throws -> any BenchConnection {
        try PostgresConnection(connectionString: cluster.connectionString(database: database), mode: mode)
    }

    func reset() throws {
        let connection = try PostgresConnection(connectionString: cluster.connectionString(database: database), mode: .insert)
        defer { connection.close() }
        try connection.execute("TRUNCATE events")
    }

    /// The whole cluster's memory: both PostgreSQL systems report the same server.
    func residentBytes() -> Int? { cluster.residentBytes() }

    /// Stops the cluster once both systems sharing it are stopped.
    func stop() {
        if stopped { return }
        stopped = true
        cluster.release()
    }
}
