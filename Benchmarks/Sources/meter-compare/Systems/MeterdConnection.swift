import Foundation
import MeterProto
import MeterWire

/// One blocking connection to meterd: a batch of one event is an Ingest request, larger
/// batches are IngestBatch requests; usage comes from Query/QueryUsage.
final class MeterdConnection: BenchConnection {
    private let wire: WireConnection

    init(_ wire: WireConnection) { self.wire = wire }

    func encode(_ events: ArraySlice<BenchEvent>) throws -> EncodedBatch {
        let messages = events.map(Self.message)
        if messages.count == 1 {
            var request = Meterd_V1_IngestRequest()
            request.event = messages[0]
            return EncodedBatch(bytes: try WireConnection.requestFrame(.ingest, request), eventCount: 1)
        }
        var request = Meterd_V1_IngestBatchRequest()
        request.events = messages
        return EncodedBatch(bytes: try WireConnection.requestFrame(.ingestBatch, request), eventCount: messages.count)
    }

    private static func message(_ event: BenchEvent) -> Meterd_V1_Event {
        var message = Meterd_V1_Event()
        message.eventID = event.id
        message.eventName = event.meter.eventName
        message.customerID = event.customer
        message.timestampMs = event.timestampMs
        message.properties = event.properties.map { property in
            var value = Meterd_V1_PropertyValue()
            if property.key == "tokens", let number = Int64(property.value) {
                value.integerValue = number
            } else {
                value.stringValue = property.value
            }
            var result = Meterd_V1_Property()
            result.key = property.key
            result.value = value
            return result
        }
        return message
    }

    func send(_ batch: EncodedBatch) throws -> Int {
        let payload = try wire.call(frameBytes: batch.bytes)
        if batch.eventCount == 1 {
            let response = try ProtobufPayload.decode(Meterd_V1_IngestResponse.self, from: payload)
            guard response.result.status != .rejected else { throw BenchError("meterd rejected an event: \(response.result.message)") }
            return response.result.status == .accepted ? 1 : 0
        }
        let response = try ProtobufPayload.decode(Meterd_V1_IngestBatchResponse.self, from: payload)
        guard response.rejected == 0 else {
            let first = response.results.first { $0.status == .rejected }
            throw BenchError("meterd rejected \(response.rejected) events: \(first?.message ?? "")")
        }
        return Int(response.accepted)
    }

    func periodUsage(meter: BenchMeter, customer: String, fromMs: Int64, toMs: Int64) throws -> Int64 {
        var request = Meterd_V1_QueryUsageRequest()
        request.meter.eventName = meter.eventName
        request.fromMs = fromMs
        request.toMs = toMs
        request.customerID = customer
        let response = try wire.call(.queryUsage, request, as: Meterd_V1_QueryUsageResponse.self)
        return try response.rows.reduce(0) { $0 + (try Self.integer($1.value)) }
    }

    func dailyTotals(meter: BenchMeter, fromMs: Int64, days: Int) throws -> [Int64] {
        var request = Meterd_V1_QueryUsageRequest()
        request.meter.eventName = meter.eventName
        request.fromMs = fromMs
        request.toMs = fromMs + Int64(days) * 86_400_000
        request.windowSize = .day
        let response = try wire.call(.queryUsage, request, as: Meterd_V1_QueryUsageResponse.self)
        var totals = [Int64](repeating: 0, count: days)
        for row in response.rows {
            let day = Int((row.windowStartMs - fromMs) / 86_400_000)
            guard day >= 0, day < days else { throw BenchError("meterd returned a window outside the range: \(row.windowStartMs)") }
            totals[day] += try Self.integer(row.value)
        }
        return totals
    }

    /// meterd answers exact decimal text; the workload's usage is always whole.
    private static func integer(_ text: String) throws -> Int64 {
        if text.isEmpty { return 0 }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]), parts.count == 1 || parts[1].allSatisfy({ $0 == "0" }) else {
            throw BenchError("meterd usage is not a whole number: \(text)")
        }
        return whole
    }

    func close() {}
}
