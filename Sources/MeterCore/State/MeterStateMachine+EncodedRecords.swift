extension MeterStateMachine {
    /// Applies one log record given as the log holds it (type byte and payload) at log position
    /// `sequence`: the same outcome and the same state as `apply(RecordCodec.decode(type:payload:), sequence:)`.
    ///
    /// An `eventsAccepted` record is applied straight from its bytes (decode-into-apply): no
    /// `UsageEvent`, `String` or property array per event; event ids are fingerprinted, event names
    /// and customer ids looked up and string filter values matched on the payload's bytes.
    /// Every other record, and an events record whose strings are not plain valid UTF-8, is
    /// decoded and applied as before. A payload that does not decode throws what
    /// `RecordCodec.decode` throws and changes nothing.
    @discardableResult
    public func apply(logRecordType type: UInt8, payload: [UInt8], sequence: UInt64) throws(DecodingError) -> ApplyOutcome {
        guard type == RecordCodec.eventsAcceptedType, collectedEffects == nil else {
            return apply(try RecordCodec.decode(type: type, payload: payload), sequence: sequence)
        }
        precondition(sequence > lastAppliedSequence, "records must be applied in log order")
        try encodedBatch.parse(payload)
        guard encodedBatch.bytesMatchStrings else {
            return apply(try RecordCodec.decode(type: type, payload: payload), sequence: sequence)
        }
        lastAppliedSequence = sequence
        return .events(applyEncodedEvents(payload, sequence: sequence))
    }

    /// `applyEvents` for the batch `encodedBatch` holds, reading `payload` in place. Mirrors
    /// `applyEvents` step by step (the counting itself is the shared `MeterState.count`).
    private func applyEncodedEvents(_ payload: [UInt8], sequence: UInt64) -> [EventOutcome] {
        let tenantId = encodedBatch.tenantId
        let acceptedAtMilliseconds = encodedBatch.acceptedAtMilliseconds
        advanceTime(to: acceptedAtMilliseconds)
        let effectiveTime = Swift.max(acceptedAtMilliseconds, highWaterMilliseconds)
        let tenant = tenant(tenantId)
        let firstLive = eventIds.firstPosition(acceptedAtOrAfter: acceptedAtMilliseconds &- configuration.dedupWindowMilliseconds)
        let tenantPrefix = fingerprinter.prefix(tenantId: tenantId)
        let events = encodedBatch.events
        let properties = encodedBatch.properties
        var outcomes: [EventOutcome] = []
        outcomes.reserveCapacity(events.count)
        var touched: [ThresholdCandidate] = []
        let watchesThresholds = !entitlementState.rulesByMeter.isEmpty
        let rolledBeforeMinute = rolledBeforeMinute
        var recentNames: [(start: Int, count: Int, meter: MeterState?)] = []
        recentNames.reserveCapacity(4)
        payload.withUnsafeBufferPointer { bytes in
            properties.withUnsafeBufferPointer { allProperties in
                events.withUnsafeBufferPointer { events in
                    var index: UInt32 = 0
                    for event in events {
                        defer { index &+= 1 }
                        let fingerprint = fingerprinter.fingerprint(
                            prefix: tenantPrefix, eventIdUTF8: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[event.idStart..<(event.idStart + event.idCount)]))
                        guard eventIds.insert(fingerprint, acceptedAtMilliseconds: effectiveTime, firstLivePosition: firstLive) else {
                            outcomes.append(.duplicate)
                            continue
                        }
                        // A batch has few event names: the last few looked up, with their
                        // meter (or none), are compared by bytes before the table is asked.
                        // Meters do not change while one record applies.
                        let name = UnsafeBufferPointer(rebasing: bytes[event.nameStart..<(event.nameStart + event.nameCount)])
                        var found: MeterState??
                        for entry in recentNames where entry.count == event.nameCount
                            && FastHash.equal(UnsafeBufferPointer(rebasing: bytes[entry.start..<(entry.start + entry.count)]), name) {
                            found = .some(entry.meter)
                            break
                        }
                        if found == nil {
                            let looked = tenant.activeMeterByEventName.value(forUTF8: name)
                            if recentNames.count < 4 { recentNames.append((event.nameStart, event.nameCount, looked)) }
                            found = .some(looked)
                        }
                        guard let meter = found! else {
                            tenant.eventsWithoutMeter += 1
                            outcomes.append(.noActiveMeter)
                            continue
                        }
                        let customer = tenant.customerIndex.intern(
                            utf8: UnsafeBufferPointer(rebasing: bytes[event.customerStart..<(event.customerStart + event.customerCount)]))
                        let view = EncodedEventView(
                            bytes: bytes,
                            properties: UnsafeBufferPointer(rebasing: allProperties[event.firstProperty..<(event.firstProperty + event.propertyCount)]),
                            timestampMilliseconds: event.timestampMilliseconds)
                        let outcome = meter.count(view, customerIndex: customer, sequence: sequence, index: index, rolledBeforeMinute: rolledBeforeMinute)
                        outcomes.append(outcome)
                        if watchesThresholds, outcome == .counted, entitlementState.rulesByMeter[meter.meter.id] != nil {
                            // The interned id has the event's bytes (interning compares bytes).
                            touched.append(ThresholdCandidate(meter: meter, customerIndex: customer,
                                                              customerId: tenant.customerIndex.strings[Int(customer)],
                                                              timestampMilliseconds: event.timestampMilliseconds))
                        }
                    }
                }
            }
        }
        if !touched.isEmpty {
            evaluateThresholds(touched, sequence: sequence, atMilliseconds: acceptedAtMilliseconds)
        }
        return outcomes
    }
}
