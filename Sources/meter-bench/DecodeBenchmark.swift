import MeterCore
import MeterProto
import MeterServer
import MeterWire
import NIOCore

/// IngestBatch decoding, side by side in one run: swift-protobuf plus conversion (the
/// reference) against the hand-written decoder the server uses.
enum DecodeBenchmark {
    static func run(iterations: Int) throws {
        var request = Meterd_V1_IngestBatchRequest()
        for index in 0..<1000 {
            var event = Meterd_V1_Event()
            event.eventID = "0d5f6c2e-8f1d-4b7a-9e3c-\(100_000_000 + index)"
            event.eventName = "tokens_used"
            event.customerID = "customer-\(index % 10_000)"
            event.timestampMs = 1_767_225_600_000 + Int64(index)
            var model = Meterd_V1_Property()
            model.key = "model"
            model.value.stringValue = index % 2 == 0 ? "llama3.1" : "llama3.2"
            var tokens = Meterd_V1_Property()
            tokens.key = "tokens"
            tokens.value.integerValue = Int64(index % 4000)
            var price = Meterd_V1_Property()
            price.key = "price"
            price.value.decimalValue = "0.000125"
            event.properties = [model, tokens, price]
            request.events.append(event)
        }
        let buffer = try ProtobufPayload.encode(request)
        print("== IngestBatch decode: 1000 events of 3 properties (\(buffer.readableBytes) bytes), \(iterations) batches each")
        for (name, decode) in [("swift-protobuf + conversion", IngestBatchDecoder.decodeWithSwiftProtobuf),
                               ("IngestBatchDecoder (server)", IngestBatchDecoder.decode)] {
            var count = 0
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                for _ in 0..<iterations { count += try decode(buffer).count }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("\(name): \(format(Double(count) / seconds / 1e6)) million events/s")
        }
    }
}
