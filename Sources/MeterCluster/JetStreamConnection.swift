// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import CNATS
import Foundation

/// One connection to a NATS cluster with its JetStream context: the few calls cluster mode
/// needs (create the stream, publish with a message id, subscribe with an ordered consumer).
///
/// The client reconnects by itself to any server of `servers` for ever (every 100 ms), so a
/// NATS server that dies only delays calls; publishes in flight then time out and are retried
/// by `ClusterLog` with the same message id. Thread-safe as the C client is.
final class JetStreamConnection: @unchecked Sendable {
    private let connection: OpaquePointer
    private let jetStream: OpaquePointer
    /// The JetStream context and the connection, for extensions in other files.
    var jetStreamContext: OpaquePointer { jetStream }
    var natsConnection: OpaquePointer { connection }

    /// Connects, retrying until `deadline` (the NATS servers may still be starting).
    init(servers: [String], name: String, deadline: Date) throws(NATSError) {
        var options: OpaquePointer?
        var status = natsOptions_Create(&options)
        guard status == NATS_OK else { throw NATSError("cannot create NATS options", status) }
        defer { natsOptions_Destroy(options) }
        let urls = servers.map { strdup($0) }
        defer { for url in urls { free(url) } }
        var pointers = urls.map { UnsafePointer<CChar>($0) }
        status = natsOptions_SetServers(options, &pointers, Int32(pointers.count))
        guard status == NATS_OK else { throw NATSError("invalid NATS server list \(servers)", status) }
        natsOptions_SetName(options, name)
        natsOptions_SetMaxReconnect(options, -1)
        natsOptions_SetReconnectWait(options, 100)
        natsOptions_SetTimeout(options, 2000)
        natsOptions_SetNoRandomize(options, false)
        var connected: OpaquePointer?
        while true {
            status = natsConnection_Connect(&connected, options)
            if status == NATS_OK { break }
            if Date() >= deadline { throw NATSError("cannot connect to NATS at \(servers.joined(separator: ","))", status) }
            usleep(200_000)
        }
        connection = connected!
        var jetStreamOptions = jsOptions()
        jsOptions_Init(&jetStreamOptions)
        jetStreamOptions.Wait = 5000
        var context: OpaquePointer?
        status = natsConnection_JetStream(&context, connection, &jetStreamOptions)
        guard status == NATS_OK, let context else {
            natsConnection_Destroy(connection)
            throw NATSError("cannot open a JetStream context", status)
        }
        jetStream = context
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    /// Creates the stream when missing (an existing stream of that name is used as it is),
    /// retrying until `deadline` while JetStream elects its leaders.
    func ensureStream(name: String, subjects: [String], replicas: Int, duplicateWindowSeconds: Int, deadline: Date) throws(NATSError) {
        while true {
            var config = jsStreamConfig()
            jsStreamConfig_Init(&config)
            let cName = strdup(name)
            let cSubjects = subjects.map { strdup($0) }
            defer {
                free(cName)
                for subject in cSubjects { free(subject) }
            }
            var subjectPointers = cSubjects.map { UnsafePointer<CChar>($0) }
            var code = jsErrCode(0)
            var info: UnsafeMutablePointer<jsStreamInfo>?
            let status: natsStatus = subjectPointers.withUnsafeMutableBufferPointer { buffer in
                config.Name = UnsafePointer(cName)
                config.Subjects = buffer.baseAddress
                config.SubjectsLen = Int32(buffer.count)
                config.Storage = js_FileStorage
                config.Replicas = Int64(replicas)
                config.Duplicates = Int64(duplicateWindowSeconds) * 1_000_000_000
                return js_AddStream(&info, jetStream, &config, nil, &code)
            }
            if status == NATS_OK {
                jsStreamInfo_Destroy(info)
                return
            }
            var existing: UnsafeMutablePointer<jsStreamInfo>?
            var lookupCode = jsErrCode(0)
            if js_GetStreamInfo(&existing, jetStream, name, nil, &lookupCode) == NATS_OK {
                jsStreamInfo_Destroy(existing)
                return
            }
            if Date() >= deadline { throw NATSError("cannot create the JetStream stream \(name)", status, jetStreamCode: code) }
            usleep(250_000)
        }
    }

    /// Stores `value` under `key` in the key-value bucket `bucket` (created when missing) if
    /// the key is new, and returns the value the bucket holds for `key` afterwards: `value`
    /// for the first caller, the first caller's value for every later one.
    func firstValue(bucket: String, key: String, value: String, replicas: Int, deadline: Date) throws(NATSError) -> String {
        let store = try keyValue(bucket: bucket, replicas: replicas, deadline: deadline)
        while true {
            _ = store.create(key, value)
            let read = store.get(key)
            if case .success(let entry?) = read { return entry.value }
            if Date() >= deadline {
                if case .failure(let error) = read { throw error }
                throw NATSError("cannot read key \(key) of key-value bucket \(bucket)", NATS_NOT_FOUND)
            }
            usleep(250_000)
        }
    }

    /// The stream's last sequence now (0 when it holds nothing yet).
    func lastSequence(stream: String) throws(NATSError) -> UInt64 {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStream, stream, nil, &code)
        guard status == NATS_OK, let info else { throw NATSError("cannot read the state of stream \(stream)", status, jetStreamCode: code) }
        defer { jsStreamInfo_Destroy(info) }
        return info.pointee.State.LastSeq
    }

    /// Publishes `data` on `subject` with the message id JetStream deduplicates on, and waits
    /// for the stream's acknowledgement: the stream sequence, and whether it was a duplicate.
    func publish(subject: String, data: [UInt8], messageId: String, timeoutMilliseconds: Int) -> Result<(sequence: UInt64, duplicate: Bool), NATSError> {
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = Int64(timeoutMilliseconds)
        var acknowledgement: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(0)
        let status = messageId.withCString { id in
            options.MsgId = id
            return data.withUnsafeBytes { bytes in
                js_Publish(&acknowledgement, jetStream, subject, bytes.baseAddress, Int32(bytes.count), &options, &code)
            }
        }
        guard status == NATS_OK, let acknowledgement else {
            return .failure(NATSError("publish to \(subject) was not acknowledged", status, jetStreamCode: code))
        }
        defer { jsPubAck_Destroy(acknowledgement) }
        return .success((acknowledgement.pointee.Sequence, acknowledgement.pointee.Duplicate))
    }

    /// An ordered consumer of every subject of `stream` from `startSequence` (1: from the start).
    func subscribeOrdered(stream: String, subject: String, startSequence: UInt64) throws(NATSError) -> OrderedSubscription {
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        options.Ordered = true
        if startSequence > 1 {
            options.Config.DeliverPolicy = js_DeliverByStartSequence
            options.Config.OptStartSeq = startSequence
        } else {
            options.Config.DeliverPolicy = js_DeliverAll
        }
        var subscription: OpaquePointer?
        var code = jsErrCode(0)
        let status = stream.withCString { name in
            options.Stream = name
            return js_SubscribeSync(&subscription, jetStream, subject, nil, &options, &code)
        }
        guard status == NATS_OK, let subscription else {
            throw NATSError("cannot subscribe to stream \(stream) from sequence \(startSequence)", status, jetStreamCode: code)
        }
        natsSubscription_SetPendingLimits(subscription, 1_000_000, 1 << 30)
        return OrderedSubscription(subscription)
    }
}

/// An ordered consumer's subscription: messages in stream order, one at a time.
final class OrderedSubscription {
    private let subscription: OpaquePointer

    init(_ subscription: OpaquePointer) {
        self.subscription = subscription
    }

    deinit {
        natsSubscription_Unsubscribe(subscription)
        natsSubscription_Destroy(subscription)
    }

    /// One message delivered by the stream.
    struct Message {
        var streamSequence: UInt64
        var subject: String
        /// Stored at, in nanoseconds since the Unix epoch (set by the stream's leader).
        var timestampNanoseconds: Int64
        var messageId: String?
        var data: [UInt8]
    }

    /// The next message; nil when none came within `timeoutMilliseconds`.
    func next(timeoutMilliseconds: Int) throws(NATSError) -> Message? {
        var message: OpaquePointer?
        let status = natsSubscription_NextMsg(&message, subscription, Int64(timeoutMilliseconds))
        if status == NATS_TIMEOUT { return nil }
        guard status == NATS_OK, let message else { throw NATSError("receiving from the stream failed", status) }
        defer { natsMsg_Destroy(message) }
        var metadata: UnsafeMutablePointer<jsMsgMetaData>?
        let metaStatus = natsMsg_GetMetaData(&metadata, message)
        guard metaStatus == NATS_OK, let metadata else { throw NATSError("a stream message without JetStream metadata", metaStatus) }
        defer { jsMsgMetaData_Destroy(metadata) }
        var idPointer: UnsafePointer<CChar>?
        let messageId = natsMsgHeader_Get(message, "Nats-Msg-Id", &idPointer) == NATS_OK ? idPointer.map { String(cString: $0) } : nil
        let length = Int(natsMsg_GetDataLength(message))
        var data: [UInt8] = []
        if length > 0, let bytes = natsMsg_GetData(message) {
            data = Array(UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self))
        }
        let subject = natsMsg_GetSubject(message).map { String(cString: $0) } ?? ""
        return Message(streamSequence: metadata.pointee.Sequence.Stream, subject: subject, timestampNanoseconds: metadata.pointee.Timestamp,
                       messageId: messageId, data: data)
    }
}
#endif
