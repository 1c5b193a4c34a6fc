import Foundation
import MeterTestSupport

/// One keep-alive HTTP/1.1 connection to meterd's `--http` listener: batches go as
/// `POST /api/v1/events` with `application/cloudevents-batch+json` (a batch of one as
/// `application/cloudevents+json`), as a service moving from OpenMeter would send them. Usage
/// is read over the binary protocol of the same meterd (`queries`): this system measures the
/// HTTP ingest path, and the answers it is checked with are the same engine's.
final class MeterdHTTPConnection: BenchConnection {
    private let descriptor: Int32
    private let authorization: String
    private let queries: MeterdConnection
    private var received: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)

    init(port: Int, apiKey: String, queries: MeterdConnection) throws {
        do {
            descriptor = try BlockingSocket.connect(.tcp(port: port))
        } catch {
            throw BenchError("cannot reach meterd's HTTP listener on port \(port): \(error)")
        }
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        authorization = "Bearer " + apiKey
        self.queries = queries
    }

    deinit { Glibc.close(descriptor) }

    func encode(_ events: ArraySlice<BenchEvent>) throws -> EncodedBatch {
        var body = events.count == 1 ? "" : "["
        for (index, event) in events.enumerated() {
            if index > 0 { body += "," }
            body += Self.cloudEvent(event)
        }
        if events.count != 1 { body += "]" }
        let contentType = events.count == 1 ? "application/cloudevents+json" : "application/cloudevents-batch+json"
        let head = "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(authorization)\r\n"
            + "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return EncodedBatch(bytes: Array((head + body).utf8), eventCount: events.count)
    }

    /// One event as a CloudEvent: `type` the event name, `subject` the customer, `time` in RFC
    /// 3339 with milliseconds, `data` the properties (`tokens` as a JSON number).
    private static func cloudEvent(_ event: BenchEvent) -> String {
        var data = ""
        for (index, property) in event.properties.enumerated() {
            if index > 0 { data += "," }
            let value = property.key == "tokens" && Int64(property.value) != nil ? property.value : "\"\(property.value)\""
            data += "\"\(property.key)\":\(value)"
        }
        return #"{"specversion":"1.0","id":"\#(event.id)","source":"meter-compare","type":"\#(event.meter.eventName)","subject":"\#(event.customer)","time":"\#(rfc3339(event.timestampMs))","data":{\#(data)}}"#
    }

    /// "YYYY-MM-DDTHH:MM:SS.mmmZ" from PostgreSQL's timestamp literal "YYYY-MM-DD HH:MM:SS.mmm+00".
    private static func rfc3339(_ milliseconds: Int64) -> String {
        UTCCivilDate.timestamp(milliseconds).replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: "+00", with: "Z")
    }

    func send(_ batch: EncodedBatch) throws -> Int {
        try batch.bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw BenchError("HTTP write failed: errno \(errno)") }
                offset += written
            }
        }
        let (status, body) = try readResponse()
        guard status == 200 else { throw BenchError("meterd's HTTP listener answered \(status): \(body.prefix(300))") }
        if batch.eventCount == 1 {
            return body.contains(#""status":"ACCEPTED""#) ? 1 : 0
        }
        // The batch answer ends with the counts: ..."accepted":N,"duplicates":N,"rejected":N}
        guard let range = body.range(of: #""accepted":"#, options: .backwards),
              let accepted = Int(body[range.upperBound...].prefix { $0.isNumber }) else {
            throw BenchError("no accepted count in meterd's HTTP answer: \(body.suffix(300))")
        }
        return accepted
    }

    /// Reads one response: the status code and the body (Content-Length framed).
    private func readResponse() throws -> (status: Int, body: String) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            if let found = Self.find(separator, in: received) { headEnd = found; break }
            try receiveMore()
        }
        let head = String(decoding: received[..<headEnd!], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.dropFirst(9).prefix(3)) else { throw BenchError("not an HTTP response: \(head.prefix(200))") }
        guard let lengthLine = lines.first(where: { $0.lowercased().hasPrefix("content-length:") }),
              let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
            throw BenchError("HTTP response without Content-Length: \(head.prefix(300))")
        }
        let bodyStart = headEnd! + separator.count
        while received.count < bodyStart + length { try receiveMore() }
        let body = String(decoding: received[bodyStart..<(bodyStart + length)], as: UTF8.self)
        received.removeFirst(bodyStart + length)
        return (status, body)
    }

    private func receiveMore() throws {
        let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
        guard count > 0 else { throw BenchError("meterd's HTTP listener closed the connection (errno \(errno))") }
        received += chunk[..<count]
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }

    func periodUsage(meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) throws -> Int64 {
        try queries.periodUsage(meter: meter, customer: customer, fromMs: fromMs, toMs: toMs)
    }

    func dailyTotals(meter: BenchMeter, fromMs: Int64, days: Int) throws -> [Int64] {
        try queries.dailyTotals(meter: meter, fromMs: fromMs, days: days)
    }

    func close() { queries.close() }
}
