/// How a meterd node joins a cluster (docs/cluster.md): the NATS servers, the stream that is
/// the replicated log, and how writes are published to it.
public struct ClusterOptions: Sendable {
    /// NATS server URLs (nats://HOST:PORT); the client reconnects to any of them.
    public var servers: [String]
    /// This node's name: in its client name and in the message ids of its publishes.
    public var nodeName: String
    /// The JetStream stream holding the log (created on first start when missing).
    public var streamName = "METERD"
    /// Subjects are `<prefix>.p<partition>` for event batches and `<prefix>.meta` for meters, keys,
    /// entitlements, grants and threshold rules.
    public var subjectPrefix = "meterd.log"
    /// Number of event partitions, fixed when the cluster is created (the stream keeps them).
    public var partitions = 8
    /// Replicas of the stream (3 on three NATS servers).
    public var replicas = 3
    /// How long JetStream remembers message ids to drop a retried publish (seconds).
    public var duplicateWindowSeconds = 600
    /// One publish attempt waits this long for its acknowledgement...
    public var publishTimeoutMilliseconds = 2_000
    /// ...and a write is retried (same message id) until this much time has passed, then
    /// answered UNAVAILABLE (the client retries with the same event ids).
    public var publishGiveUpMilliseconds = 20_000
    /// Threads publishing writes (each waits for its acknowledgement).
    public var publisherThreads = 8
    /// The node's state-machine settings as text (empty: not checked). The first node stores
    /// them in the key-value bucket `<stream>_SETTINGS`; a node whose text differs refuses to
    /// start, since it would decide differently from the others.
    public var settings = ""
    /// Where this node answers clients (a Unix socket path or HOST:PORT), written in the leases
    /// it holds so that other nodes can name it to clients.
    public var address = ""
    /// A partition lease not renewed for this long (as seen by another node's clock) may be
    /// taken by another node; owners renew every quarter of it (docs/cluster.md, "Leases").
    public var leaseMilliseconds: Int64 = 3_000
    /// Where the node's partition engines keep their working directories (rebuilt from the
    /// stream whenever the node takes a partition).
    public var partitionsDirectory = ""
    /// A partition's engine publishes a snapshot of its state (docs/cluster.md, "Snapshots")
    /// once it applied this many records (of its partition and the meta subject) since the
    /// last one...
    public var snapshotEveryRecords: UInt64 = 5_000
    /// ...or, with at least one record applied, once this many seconds passed since the last one.
    public var snapshotEverySeconds: Int64 = 60
    /// Trimming of the stream behind the shared snapshots (docs/cluster.md, "Trimming"): 0
    /// (the default) never trims; otherwise messages older than this many seconds that every
    /// snapshot (each partition's and the meta engine's) covers are purged. At least 30 when on.
    public var retainSeconds: Int64 = 0
    /// How long start-up waits for NATS and the stream.
    public var startTimeoutSeconds = 60

    public init(servers: [String], nodeName: String) {
        self.servers = servers
        self.nodeName = nodeName
    }
}
