/// One opaque entry of the write-ahead log: a type tag and the bytes the engine encoded.
///
/// The log never interprets payloads. It only reserves two type values for itself: 0 marks
/// unwritten or padding bytes (a zeroed disk block must never decode as a record) and 255
/// is the seal record that closes a segment. Callers use types 1 through 254.
public struct LogRecord: Sendable, Equatable {
    /// The caller's record kind, in `LogRecord.userTypes`.
    public var type: UInt8
    /// The encoded record, at most `LogRecord.maximumPayloadByteCount` bytes.
    public var payload: [UInt8]

    /// The record types available to callers; 0 and 255 belong to the log.
    public static let userTypes: ClosedRange<UInt8> = 1...254

    /// The largest payload one record may carry (64 MiB). Event batches are far smaller;
    /// the cap bounds what a corrupted length word can make recovery read.
    public static let maximumPayloadByteCount = 64 << 20

    /// Creates a record. `type` must be in `userTypes`.
    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }
}
