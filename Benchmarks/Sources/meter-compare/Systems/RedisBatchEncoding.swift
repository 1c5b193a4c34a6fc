/// The Redis data model of the comparison and how events are turned into RESP commands.
///
/// One EVALSHA of `script` per event makes dedup and counting atomic:
/// - `e:{event id}`: the dedup key, `SET NX EX` 40 days; a second send of the id counts nothing.
/// - SUM / COUNT: `HINCRBY u:{meter}:{customer}:{yyyymmdd} {minute of day} {amount}` (per
///   customer and minute) and `HINCRBY d:{meter}:{yyyymmdd} {customer} {amount}` (daily totals).
/// - COUNT_UNIQUE: `SADD s:{meter}:{customer}:{yyyymm} {user}`.
/// Events the meter's filter drops (amount nil, computed client side) only record the dedup key.
/// Days and months are UTC.
enum RedisBatchEncoding {
    static let dedupSeconds = 40 * 86_400

    /// KEYS[1] dedup key; ARGV[1] TTL seconds; ARGV[2] "n" (numeric: KEYS[2] per-minute hash,
    /// KEYS[3] daily hash, ARGV[3] minute, ARGV[4] amount, ARGV[5] customer), "u" (unique:
    /// KEYS[2] set, ARGV[3] member) or "-" (filtered out). Returns 1 when new, 0 when a duplicate.
    static let script = """
        if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
        if ARGV[2] == 'n' then
          redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])
          redis.call('HINCRBY', KEYS[3], ARGV[5], ARGV[4])
        elseif ARGV[2] == 'u' then
          redis.call('SADD', KEYS[2], ARGV[3])
        end
        return 1
        """

    /// The pipeline of one EVALSHA per event, RESP-encoded.
    static func evalCommands(_ events: ArraySlice<BenchEvent>, scriptSha: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(events.count * 200)
        let sha = Array(scriptSha.utf8)
        let ttl = Array(String(dedupSeconds).utf8)
        for event in events {
            var dedupKey = Array("e:".utf8)
            dedupKey.append(contentsOf: event.id.utf8)
            let meter = event.meter
            if meter.aggregation == .countUnique, let user = event.uniqueValue {
                var setKey: [UInt8] = []
                appendPrefix("s:", meter: meter, customer: event.customer, to: &setKey)
                UTCCivilDate.appendMonthStamp(event.timestampMs, to: &setKey)
                appendCommand([Array("EVALSHA".utf8), sha, Array("2".utf8), dedupKey, setKey, ttl, [UInt8(ascii: "u")], Array(user.utf8)], to: &bytes)
            } else if meter.aggregation != .countUnique, let amount = event.amount {
                var minuteKey: [UInt8] = []
                appendPrefix("u:", meter: meter, customer: event.customer, to: &minuteKey)
                UTCCivilDate.appendDayStamp(event.timestampMs, to: &minuteKey)
                var dailyKey = Array("d:".utf8)
                dailyKey.append(contentsOf: meter.eventName.utf8)
                dailyKey.append(UInt8(ascii: ":"))
                UTCCivilDate.appendDayStamp(event.timestampMs, to: &dailyKey)
                let minute = UTCCivilDate.millisecondOfDay(event.timestampMs) / 60000
                appendCommand([
                    Array("EVALSHA".utf8), sha, Array("3".utf8), dedupKey, minuteKey, dailyKey, ttl, [UInt8(ascii: "n")],
                    Array(String(minute).utf8), Array(String(amount).utf8), Array(event.customer.utf8),
                ], to: &bytes)
            } else {
                appendCommand([Array("EVALSHA".utf8), sha, Array("1".utf8), dedupKey, ttl, [UInt8(ascii: "-")]], to: &bytes)
            }
        }
        return bytes
    }

    /// `u:{meter}:{customer}:{yyyymmdd}` of the UTC day starting at `dayNumber`.
    static func minuteHashKey(meter: BenchMeter, customer: String, dayNumber: Int64) -> String {
        var key: [UInt8] = []
        appendPrefix("u:", meter: meter, customer: customer, to: &key)
        UTCCivilDate.appendDayStamp(dayNumber * UTCCivilDate.millisecondsPerDay, to: &key)
        return String(decoding: key, as: UTF8.self)
    }

    /// `d:{meter}:{yyyymmdd}` of the UTC day starting at `dayNumber`.
    static func dailyHashKey(meter: BenchMeter, dayNumber: Int64) -> String {
        "d:\(meter.eventName):" + UTCCivilDate.dayStamp(dayNumber * UTCCivilDate.millisecondsPerDay)
    }

    /// `s:{meter}:{customer}:{yyyymm}` of the UTC month containing `milliseconds`.
    static func uniqueSetKey(meter: BenchMeter, customer: String, milliseconds: Int64) -> String {
        "s:\(meter.eventName):\(customer):" + UTCCivilDate.monthStamp(milliseconds)
    }

    /// "{kind}{meter}:{customer}:"
    private static func appendPrefix(_ kind: String, meter: BenchMeter, customer: String, to key: inout [UInt8]) {
        key.append(contentsOf: kind.utf8)
        key.append(contentsOf: meter.eventName.utf8)
        key.append(UInt8(ascii: ":"))
        key.append(contentsOf: customer.utf8)
        key.append(UInt8(ascii: ":"))
    }

    /// One RESP command: an array of bulk strings.
    static func appendCommand(_ arguments: [[UInt8]], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "*"))
        bytes.append(contentsOf: String(arguments.count).utf8)
        bytes.append(contentsOf: [13, 10])
        for argument in arguments {
            bytes.append(UInt8(ascii: "$"))
            bytes.append(contentsOf: String(argument.count).utf8)
            bytes.append(contentsOf: [13, 10])
            bytes.append(contentsOf: argument)
            bytes.append(contentsOf: [13, 10])
        }
    }
}
