/// Redis as a team would meter with it: counters kept up to date at ingest by a Lua script
/// (dedup key + HINCRBY / SADD, atomic per event, `RedisBatchEncoding`), each system with its
/// own redis-server process.
///
/// "redis-always" (appendfsync always) makes meterd's promise: the AOF is fsynced before the
/// reply. "redis-everysec" is weaker and says so in its label.
final class RedisSystem: BenchSystem, @unchecked Sendable {
    /// The appendfsync policy of the server.
    enum Durability: String, Sendable {
        case always
        case everysec
    }

    let server: RedisServer
    let durability: Durability
    let key: String
    let label: String
    /// One line for the results' system table.
    var durabilityDescription: String {
        switch durability {
        case .always: "fsync before ack (appendfsync always)"
        case .everysec: "appendfsync everysec (weaker: up to 1 s of acked events can be lost)"
        }
    }
    var settingsDescription: String { server.settingsDescription }
    var version: String { server.version }

    /// Starts a redis-server in `directory` (created; removed by `stop()`).
    init(redisServer: String = "/usr/bin/redis-server", directory: String, durability: Durability) throws {
        self.durability = durability
        server = try RedisServer(executable: redisServer, directory: directory, appendfsync: durability.rawValue)
        switch durability {
        case .always:
            key = "redis-always"
            label = "Redis (appendfsync always)"
        case .everysec:
            key = "redis-everysec"
            label = "Redis (everysec, weaker)"
        }
    }

    func connect() throws -> any BenchConnection {
        try RedisConnection(socketPath: server.socketPath)
    }

    /// FLUSHALL (synchronous). Scripts survive it; connections reload theirs on NOSCRIPT anyway.
    func reset() throws {
        let connection = try RedisConnection(socketPath: server.socketPath)
        defer { connection.close() }
        try connection.command(["FLUSHALL", "SYNC"])
    }

    func residentBytes() -> Int? { server.residentBytes() }

    func stop() { server.stop() }
}
