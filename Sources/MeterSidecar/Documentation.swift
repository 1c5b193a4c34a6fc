// meter-sidecar: design and behaviour
// ====================================
//
// The sidecar runs beside a service, takes its events on a local Unix-domain socket and
// forwards them to meterd. Its wire protocol is meterd's (docs/protocol.md): same preface,
// handshake, frames and status codes, so any meterd client (MeterClient, clients/c,
// clients/python) can point at the sidecar's socket instead of meterd's.
//
// Methods
//   Ingest (16), IngestBatch (17)  accepted. The reply comes once the events are fsynced in the
//                                  spool: every event ACCEPTED (outcome unspecified: meterd has
//                                  not seen it yet). Whether meterd counts it is known only later;
//                                  events meterd rejects end in the dead-letter file.
//   Health.Check (48)              SERVING (NOT_SERVING after a spool write failure); the message
//                                  is key=value pairs: spool_events (accepted, not yet acknowledged
//                                  by meterd nor dead-lettered), spool_bytes (segment files on
//                                  disk), oldest_unsent_ms, batches_sent, retries, dead_letters,
//                                  events_forwarded, forwarded_through, last_spooled,
//                                  upstream=connected|disconnected. Counters are since start.
//   Health.ServerInfo (49)         version "meter-sidecar X", uptime, durability "fsync",
//                                  last_applied_sequence = newest spool position,
//                                  first_retained_sequence = forwarded position + 1,
//                                  group_commits = batches meterd answered, syncs = spool fsyncs,
//                                  failure = spool failure.
//   anything else                  UNIMPLEMENTED (not forwarded): admin and query calls go to
//                                  meterd directly, so the sidecar never needs meterd up to answer.
//   Handshake tenant               empty or the sidecar's --tenant; others get GOAWAY. Every event
//                                  is forwarded on one meterd connection for --tenant.
//
// Event ids
//   An event without event_id gets "sc-<random 96-bit hex, new per process start>-<counter>"
//   at acceptance, before it is spooled, so every resend to meterd carries the same id and
//   meterd's dedup counts it once. The id is not derived from the event's content: two equal
//   events without ids are two uses. A client that retries a request whose reply it lost must
//   send its own ids to be safe; without ids its retry is new usage.
//
// Spool (MeterLog.SegmentedLog in --spool-dir)
//   One record per accepted request: accepted-at ms (8 bytes LE) + IngestBatchRequest bytes.
//   A writer thread does group commit: all requests waiting are appended with one write and one
//   fdatasync, then handed to the forwarder, then acknowledged. Segment size is
//   --max-spool-bytes / 8 (4 KiB ... 16 MiB). --max-spool-bytes bounds the segment files on
//   disk: a request that would pass it gets RESOURCE_EXHAUSTED ("spool full"); one larger than
//   a quarter of it gets INVALID_ARGUMENT (it could never fit). Unsent events are also held in
//   memory (bounded by the same limit), so the spool is read from disk only at start.
//
// Forwarded position (--spool-dir/forwarded-through)
//   Every record at or below it was acknowledged by meterd (ACCEPTED or DUPLICATE) or written to
//   the dead-letter file. Batches may finish out of order; the position only passes a batch once
//   all batches before it finished. After each advance the file is replaced atomically (temp
//   file, fsync, rename, fsync directory), then segments wholly below it are deleted. After a
//   crash the sidecar resends from the stored position: a few batches may go twice, and meterd
//   answers DUPLICATE for them.
//
// Forwarding
//   Batches are cut at --batch-events events (default 1000) or 2 MiB, or when the oldest queued
//   event has waited --batch-milliseconds (default 50). At most --max-in-flight-batches (default
//   4) are outstanding. A batch that fails with a connection error, a deadline, UNAVAILABLE,
//   RESOURCE_EXHAUSTED (or any other error a retry might fix, including a refused handshake) is
//   resent with the same ids after exponential backoff with jitter (50 ms doubling up to
//   --max-backoff-milliseconds, each wait uniformly in [d/2, d]). MeterClient does not
//   reconnect, so after a connection error or GOAWAY the sidecar makes a new client.
//   Whole-request INVALID_ARGUMENT/FAILED_PRECONDITION/OUT_OF_RANGE/NOT_FOUND/ALREADY_EXISTS
//   answers dead-letter the batch's events with that reason instead of retrying forever.
//
// Dead letters (--dead-letter, default --spool-dir/dead-letter.ndjson)
//   One JSON object per rejected event: {"sequence", "dead_lettered_at_ms", "reason",
//   "message", "event": <the event as proto3 JSON, proto field names>}. Appended and fsynced
//   before the forwarded position passes the event. After a crash between the two, the same
//   event can appear twice (dedupe by event.event_id).
//
// Connections (the wire-server core meterd uses, MeterWireServer)
//   --max-connections (default 256) open clients; one more gets GOAWAY "too many connections
//   (limit N) or shutting down" and a close. A client must send its preface and HANDSHAKE within
//   --handshake-timeout-seconds (default 10), else GOAWAY "handshake timeout". A connection
//   with no traffic for --idle-timeout-seconds (default 300) gets GOAWAY "idle timeout". The
//   frame rules, in-flight limit and reply-size check are meterd's (docs/protocol.md).
//
// Shutdown (SIGTERM/SIGINT)
//   Stop listening; clients get GOAWAY once their in-flight requests are answered (at most
//   2 s); finish spool writes; send everything queued at once (ignoring the batch window) for up
//   to --shutdown-timeout-seconds; store the forwarded position. What was not acknowledged
//   stays in the spool and is sent after the next start. Prints "stopped (spool drained)" or
//   "stopped (N events kept in the spool)".
//
// Not done: no TCP listener.
