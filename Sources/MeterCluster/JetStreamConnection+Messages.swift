// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import CNATS
import Foundation

/// One stored message read back by sequence or by subject.
struct StoredMessage {
    var sequence: UInt64
    var subject: String
    var data: [UInt8]
    /// Stored at, in nanoseconds since the Unix epoch (set by the stream's leader).
    var timestampNanoseconds: Int64 = 0
}

extension JetStreamConnection {
    /// The largest message payload the connected server accepts (bytes).
    var maxPayload: Int { Int(natsConnection_GetMaxPayload(natsConnection)) }

    /// The message stored at `sequence` of `stream`; nil when there is none (purged or never stored).
    func message(stream: String, sequence: UInt64) -> Result<StoredMessage?, NATSError> {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetMsg(&message, jetStreamContext, stream, sequence, nil, &code)
        return Self.stored(message, status: status, code: code, what: "message \(sequence) of stream \(stream)")
    }

    /// The newest message of `stream` on `subject`; nil when the subject holds none.
    func lastMessage(stream: String, subject: String) -> Result<StoredMessage?, NATSError> {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetLastMsg(&message, jetStreamContext, stream, subject, nil, &code)
        return Self.stored(message, status: status, code: code, what: "the last message on \(subject) of stream \(stream)")
    }

    private static func stored(_ message: OpaquePointer?, status: natsStatus, code: jsErrCode, what: String) -> Result<StoredMessage?, NATSError> {
        if status == NATS_NOT_FOUND || code == JSNoMessageFoundErr { return .success(nil) }
        guard status == NATS_OK, let message else { return .failure(NATSError("cannot read \(what)", status, jetStreamCode: code)) }
        defer { natsMsg_Destroy(message) }
        let length = Int(natsMsg_GetDataLength(message))
        var data: [UInt8] = []
        if length > 0, let bytes = natsMsg_GetData(message) {
            data = Array(UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self))
        }
        let subject = natsMsg_GetSubject(message).map { String(cString: $0) } ?? ""
        return .success(StoredMessage(sequence: natsMsg_GetSequence(message), subject: subject, data: data,
                                      timestampNanoseconds: natsMsg_GetTime(message)))
    }

    /// Purges the messages of `stream` on `subject` (nil: every subject): those below sequence
    /// `below`, or all but the newest `keep`. `below` must be at least 2: NATS 2.9 purges the
    /// whole subject (or stream) for 1.
    func purge(stream: String, subject: String?, below: UInt64? = nil, keep: UInt64? = nil) -> Result<Void, NATSError> {
        precondition(below.map { $0 > 1 } ?? true, "a purge below sequence 1 would purge the whole subject")
        precondition(below != nil || keep != nil, "a purge without a bound would purge everything")
        var options = jsOptions()
        jsOptions_Init(&options)
        var code = jsErrCode(0)
        let filter = subject.map { strdup($0) }
        defer { filter.map { free($0) } }
        if let filter { options.Stream.Purge.Subject = UnsafePointer(filter) }
        if let below { options.Stream.Purge.Sequence = below }
        if let keep { options.Stream.Purge.Keep = keep }
        let status = js_PurgeStream(jetStreamContext, stream, &options, &code)
        return status == NATS_OK ? .success(()) : .failure(NATSError("cannot purge \(subject ?? "every subject") of stream \(stream)", status, jetStreamCode: code))
    }

    /// The stream's first and last sequences now (first: the oldest message still stored, so
    /// greater than 1 once the stream was trimmed; last: 0 when it never held anything).
    func sequences(stream: String) throws(NATSError) -> (first: UInt64, last: UInt64) {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStreamContext, stream, nil, &code)
        guard status == NATS_OK, let info else { throw NATSError("cannot read the state of stream \(stream)", status, jetStreamCode: code) }
        defer { jsStreamInfo_Destroy(info) }
        return (info.pointee.State.FirstSeq, info.pointee.State.LastSeq)
    }
}
#endif
