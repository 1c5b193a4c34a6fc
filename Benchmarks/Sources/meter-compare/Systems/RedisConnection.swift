import CHiredis
import Foundation

/// One hiredis connection to a benchmark redis-server over its Unix socket, used by one thread
/// at a time. A batch is one pipeline of EVALSHA commands (`RedisBatchEncoding`), RESP-encoded
/// by `encode`, appended to the context's output buffer at once and answered with one reply per
/// event. The script is loaded when the connection opens and again after a NOSCRIPT reply.
final class RedisConnection: BenchConnection, @unchecked Sendable {
    /// A reply, copied out of hiredis's reply object.
    enum Reply {
        case integer(Int64)
        case text(String)
        case array([Reply])
        case null
        case error(String)

        var integerValue: Int64? {
            switch self {
            case .integer(let value): value
            case .text(let text): Int64(text)
            default: nil
            }
        }
    }

    private var context: UnsafeMutablePointer<redisContext>?
    private(set) var scriptSha = ""

    init(socketPath: String) throws {
        guard let context = redisConnectUnix(socketPath) else { throw BenchError("Redis connect \(socketPath): out of memory") }
        guard context.pointee.err == 0 else {
            let message = Self.errorText(context)
            redisFree(context)
            throw BenchError("Redis connect \(socketPath): \(message)")
        }
        self.context = context
        try loadScript()
    }

    deinit { close() }

    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    func loadScript() throws {
        guard case .text(let sha) = try command(["SCRIPT", "LOAD", RedisBatchEncoding.script]) else {
            throw BenchError("Redis SCRIPT LOAD did not answer a SHA")
        }
        scriptSha = sha
    }

    func encode(_ events: ArraySlice<BenchEvent>) throws -> EncodedBatch {
        EncodedBatch(bytes: RedisBatchEncoding.evalCommands(events, scriptSha: scriptSha), eventCount: events.count)
    }

    /// Writes the pipeline, reads one reply per event. After a NOSCRIPT reply (the script cache
    /// was flushed) the script is loaded and the whole batch sent again: the events already
    /// counted answer 0 the second time, so the count of new events stays exact.
    func send(_ batch: EncodedBatch) throws -> Int {
        guard batch.eventCount > 0 else { return 0 }
        var (inserted, missingScript) = try sendOnce(batch)
        if missingScript {
            try loadScript()
            let again = try sendOnce(batch)
            guard !again.missingScript else { throw BenchError("Redis EVALSHA: NOSCRIPT after SCRIPT LOAD") }
            inserted += again.inserted
        }
        return inserted
    }

    private func sendOnce(_ batch: EncodedBatch) throws -> (inserted: Int, missingScript: Bool) {
        let context = try openContext()
        let appended = batch.bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
        }
        guard appended == REDIS_OK else { throw BenchError("Redis append: \(Self.errorText(context))") }
        var inserted = 0
        var missingScript = false
        var failure: String?
        for _ in 0..<batch.eventCount {
            switch try readReply() {
            case .integer(1): inserted += 1
            case .integer(0): break
            case .error(let message) where message.hasPrefix("NOSCRIPT"): missingScript = true
            case .error(let message): failure = failure ?? message
            case let other: failure = failure ?? "unexpected reply \(other)"
            }
        }
        if let failure { throw BenchError("Redis EVALSHA: \(failure)") }
        return (inserted, missingScript)
    }

    func periodUsage(meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) throws -> Int64 {
        if meter.aggregation == .countUnique {
            let key = RedisBatchEncoding.uniqueSetKey(meter: meter, customer: customer, milliseconds: fromMs)
            guard let count = try command(["SCARD", key]).integerValue else { throw BenchError("Redis SCARD: not an integer") }
            return count
        }
        let firstDay = UTCCivilDate.dayNumber(fromMs)
        let lastDay = UTCCivilDate.dayNumber(toMs - 1)
        let keys = (firstDay...lastDay).map { RedisBatchEncoding.minuteHashKey(meter: meter, customer: customer, dayNumber: $0) }
        return try pipelinedHashValueSums(keys).reduce(0, +)
    }

    func dailyTotals(meter: BenchMeter, fromMs: Int64, days: Int) throws -> [Int64] {
        guard meter.aggregation != .countUnique else { throw BenchError("Redis dailyTotals: only SUM and COUNT meters keep daily totals") }
        guard days > 0 else { return [] }
        let firstDay = UTCCivilDate.dayNumber(fromMs)
        let keys = (0..<Int64(days)).map { RedisBatchEncoding.dailyHashKey(meter: meter, dayNumber: firstDay + $0) }
        return try pipelinedHashValueSums(keys)
    }

    /// HVALS of every key in one pipeline; the sum of each hash's values.
    private func pipelinedHashValueSums(_ keys: [String]) throws -> [Int64] {
        let context = try openContext()
        for key in keys {
            let appended = Self.withArgv(["HVALS", key]) { count, argv, lengths in
                redisAppendCommandArgv(context, count, argv, lengths)
            }
            guard appended == REDIS_OK else { throw BenchError("Redis append: \(Self.errorText(context))") }
        }
        return try keys.map { key in
            guard case .array(let values) = try readReply() else { throw BenchError("Redis HVALS \(key): not an array") }
            return try values.reduce(Int64(0)) { total, value in
                guard let number = value.integerValue else { throw BenchError("Redis HVALS \(key): not a number") }
                return total + number
            }
        }
    }

    /// Sends one command and waits for its reply.
    @discardableResult
    func command(_ arguments: [String]) throws -> Reply {
        let context = try openContext()
        let appended = Self.withArgv(arguments) { count, argv, lengths in
            redisAppendCommandArgv(context, count, argv, lengths)
        }
        guard appended == REDIS_OK else { throw BenchError("Redis append: \(Self.errorText(context))") }
        let reply = try readReply()
        if case .error(let message) = reply { throw BenchError("Redis \(arguments.first ?? ""): \(message)") }
        return reply
    }

    /// Reads the next reply (flushing the output buffer first) and frees hiredis's object.
    private func readReply() throws -> Reply {
        let context = try openContext()
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw BenchError("Redis connection: \(Self.errorText(context))")
        }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> Reply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_INTEGER: return .integer(Int64(value.integer))
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS: return .text(text(value.str, value.len))
        case REDIS_REPLY_ERROR: return .error(text(value.str, value.len))
        case REDIS_REPLY_ARRAY:
            return .array((0..<value.elements).compactMap { index in value.element[index].map(convert) })
        default: return .null
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// Calls `body` with argc, argv and argument lengths for hiredis's *Argv functions.
    static func withArgv<Result>(
        _ arguments: [String],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) throws -> Result
    ) rethrows -> Result {
        let copies = arguments.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var argv = copies.map { UnsafePointer($0) }
        let lengths = arguments.map { $0.utf8.count }
        return try argv.withUnsafeMutableBufferPointer { argvBuffer in
            try lengths.withUnsafeBufferPointer { lengthBuffer in
                try body(Int32(arguments.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
            }
        }
    }

    /// The context's error string.
    static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { buffer in
            String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private func openContext() throws -> UnsafeMutablePointer<redisContext> {
        guard let context else { throw BenchError("Redis connection is closed") }
        return context
    }
}
