/// Starts the baselines the run asks for: PostgreSQL (one cluster, INSERT and COPY databases)
/// and Redis (one server per appendfsync policy).
struct DatabaseSystems {
    var systems: [any BenchSystem] = []
    var infos: [BenchResults.SystemInfo] = []
    var stoppers: [() -> Void] = []
    var versions: [String: String] = [:]

    static func start(common: CommonOptions, directory: String, wanted: Set<String>?) throws -> DatabaseSystems {
        var result = DatabaseSystems()
        let postgresModes = [PostgresSystem.Mode.insert, .copy].filter { wanted?.contains("postgres-\($0.rawValue)") ?? true }
        if !postgresModes.isEmpty {
            let cluster = try PostgresCluster(binDirectory: common.postgresBin, directory: directory + "/postgres")
            result.stoppers.append(cluster.stop)
            result.versions["PostgreSQL"] = cluster.version
            for mode in postgresModes {
                let system = try PostgresSystem(cluster: cluster, mode: mode)
                result.systems.append(system)
                result.infos.append(BenchResults.SystemInfo(key: system.key, label: system.label, durability: system.durabilityDescription, settings: system.settingsDescription))
            }
        }
        for durability in [RedisSystem.Durability.always, .everysec] where wanted?.contains("redis-\(durability.rawValue)") ?? true {
            let system = try RedisSystem(redisServer: common.redisServer, directory: directory + "/redis-\(durability.rawValue)", durability: durability)
            result.systems.append(system)
            result.stoppers.append(system.stop)
            result.versions["Redis"] = system.version
            result.infos.append(BenchResults.SystemInfo(key: system.key, label: system.label, durability: system.durabilityDescription, settings: system.settingsDescription))
        }
        return result
    }
}
