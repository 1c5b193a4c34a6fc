import MeterClient
import MeterCore
import MeterProto
import MeterServer

/// Turns CloudEvents (OpenMeter's ingest shape) into usage events: `id` is the idempotency key,
/// `type` the event name, `subject` the customer, `time` (RFC 3339, optional: the arrival time)
/// when it happened, `source` where from, `data` the properties. Numbers in `data` keep their
/// exact text (ExactJSON) and become integers or exact decimals, never doubles.
enum CloudEventDecoder {
    static let members: Set<String> = ["specversion", "id", "source", "type", "subject", "time", "data", "datacontenttype", "dataschema"]

    /// The event, or why this one event is rejected (a batch's other events proceed).
    static func event(_ value: ExactJSONValue, nowMilliseconds: Int64) -> Result<UsageEvent, MeterError> {
        guard case .object(let members) = value else {
            return .failure(MeterError(.invalidEventId, "an event must be a JSON object, not \(value.kindDescription)"))
        }
        func string(_ name: String) -> Result<String?, MeterError> {
            switch members.first(where: { $0.key == name })?.value {
            case nil, .null?: return .success(nil)
            case .string(let text)?: return .success(text)
            case let other?: return .failure(MeterError(code(for: name), "\"\(name)\" must be a string, not \(other.kindDescription)"))
            }
        }
        var proto = Meterd_V1_Event()
        do {
            if let version = try string("specversion").get(), version != "1.0" {
                return .failure(MeterError(.invalidEventId, "\"specversion\" must be \"1.0\", got \"\(version.prefix(20))\""))
            }
            proto.eventID = try string("id").get() ?? ""
            proto.eventName = try string("type").get() ?? ""
            proto.customerID = try string("subject").get() ?? ""
            proto.source = try string("source").get() ?? ""
            if let time = try string("time").get() {
                guard let milliseconds = CivilTime.parseRFC3339(time) else {
                    return .failure(MeterError(.invalidTimestamp, "\"time\" \"\(time.prefix(40))\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z"))
                }
                proto.timestampMs = milliseconds
            } else {
                proto.timestampMs = nowMilliseconds
            }
        } catch {
            return .failure(error)
        }
        switch members.first(where: { $0.key == "data" })?.value {
        case nil, .null?: break
        case .object(let properties)?:
            for member in properties {
                var property = Meterd_V1_Property()
                property.key = member.key
                switch member.value {
                case .string(let text): property.value.stringValue = text
                case .number(let text): property.value = EventLineDecoder.propertyValue(numberText: text)
                case .bool(let flag): property.value.boolValue = flag
                case .null: continue
                case .object, .array:
                    return .failure(MeterError(.invalidProperty, "property \"\(member.key)\" is \(member.value.kindDescription): property values must be strings, numbers or booleans (nested objects and arrays are not supported)"))
                }
                proto.properties.append(property)
            }
        case let other?:
            return .failure(MeterError(.invalidProperty, "\"data\" must be an object of properties, not \(other.kindDescription)"))
        }
        return ProtoConversions.event(proto)
    }

    private static func code(for member: String) -> RejectionCode {
        switch member {
        case "type": return .invalidEventName
        case "subject": return .invalidCustomerId
        case "source": return .invalidSource
        case "time": return .timestampTooOld
        default: return .invalidEventId
        }
    }
}
