extension MeterStateMachine {
    /// 4: 3 and then the entitlements, grants, threshold rules, raised crossings and
    /// notifications after the audit trail. 3 (read): 2 and then the API keys and the audit trail after the meters. 2 (read): event ids as
    /// the fingerprint index's flat arrays after the tenants, no keys. 1 (read only): each
    /// tenant's ids as strings with their accept times, no keys.
    static let snapshotFormatVersion: UInt64 = 4

    /// The whole state as bytes. Deterministic: two state machines that applied the same
    /// records produce identical bytes (dictionaries are written in sorted key order), which is
    /// how replay determinism is checked. The log wraps these bytes with a checksum.
    /// `expectedByteCount` (for example the previous snapshot's size) is reserved up front, so
    /// that a large state is not copied again at every doubling of the buffer.
    public func snapshot(expectedByteCount: Int = 1 << 16) -> [UInt8] {
        var writer = BinaryWriter(capacity: max(1 << 16, expectedByteCount))
        writer.write(varint: Self.snapshotFormatVersion)
        writer.write(varint: nextMeterNumber)
        writer.write(signed: highWaterMilliseconds)
        writer.write(signed: rolledBeforeMinute)
        writer.write(varint: lastAppliedSequence)

        let tenantIds = tenants.keys.sorted()
        writer.write(varint: UInt64(tenantIds.count))
        for id in tenantIds {
            let tenant = tenants[id]!
            writer.write(string: id)
            writer.write(varint: tenant.eventsWithoutMeter)
            writer.write(varint: UInt64(tenant.customers.count))
            for customer in tenant.customers { writer.write(string: customer) }
        }
        // The exactly-once index, after a check value of the key its fingerprints were made
        // with (a snapshot must never be read with another key) and their width.
        writer.write(varint: configuration.dedupKey.checkValue)
        writer.write(varint: UInt64(configuration.dedupFingerprintBits))
        eventIds.write(to: &writer)

        writer.write(varint: UInt64(meterOrder.count))
        for id in meterOrder {
            write(metersById[id]!, to: &writer)
        }
        writeAccess(to: &writer)
        writeEntitlements(to: &writer)
        return writer.bytes
    }

    private func write(_ state: MeterState, to writer: inout BinaryWriter) {
        let meter = state.meter
        writer.write(string: meter.id)
        RecordCodec.write(meter.definition, to: &writer)
        writer.write(string: meter.status.rawValue)
        writer.write(signed: meter.createdAtMilliseconds)
        writer.write(bool: meter.archivedAtMilliseconds != nil)
        if let archived = meter.archivedAtMilliseconds { writer.write(signed: archived) }
        writer.write(varint: meter.createdSequence)
        for counter in [meter.counters.counted, meter.counters.filteredOut, meter.counters.missingValue, meter.counters.overflowed] {
            writer.write(varint: counter)
        }
        writer.write(varint: meter.backfill.targetSequence)
        writer.write(varint: meter.backfill.completedThroughSequence)
        writer.write(varint: meter.backfill.eventsCounted)

        writer.write(varint: UInt64(state.groups.count))
        for group in state.groups {
            writer.write(varint: UInt64(group.count))
            for value in group { writer.write(optionalString: value) }
        }
        // Series in key order, each tier's buckets in key order, distinct values sorted: the
        // bytes depend on the state only, never on the store's layout.
        let store = state.store
        let order = (0..<store.count).sorted { store.keys[$0] < store.keys[$1] }
        writer.write(varint: UInt64(order.count))
        for series in order {
            writer.write(varint: store.keys[series])
            write(store.run(series, .minutes), of: store, to: &writer)
            write(store.run(series, .hours), of: store, to: &writer)
            writeUniques(store.run(series, .minutes), of: store, to: &writer)
            writeUniques(store.run(series, .hours), of: store, to: &writer)
        }
    }

    private func write(_ buckets: PoolRun, of store: SeriesStore, to writer: inout BinaryWriter) {
        writer.write(varint: UInt64(buckets.count))
        for index in buckets.indices {
            let aggregate = store.pool.aggregate(at: index)
            writer.write(signed: store.pool.buckets[index].key)
            writer.write(signed: aggregate.count)
            writer.write(signed128: aggregate.value)
            writer.write(signed: aggregate.latestTimestamp)
            writer.write(varint: aggregate.latestSequence)
            writer.write(varint: UInt64(aggregate.latestIndex))
        }
    }

    /// The distinct values of the buckets that have any (COUNT_UNIQUE), in key order.
    private func writeUniques(_ buckets: PoolRun, of store: SeriesStore, to writer: inout BinaryWriter) {
        let withValues = buckets.indices.filter { store.pool.uniqueCount(at: $0) > 0 }
        writer.write(varint: UInt64(withValues.count))
        for index in withValues {
            let values = store.sortedUniqueValues(at: index)
            writer.write(signed: store.pool.buckets[index].key)
            writer.write(varint: UInt64(values.count))
            for value in values { writer.write(string: value) }
        }
    }

    /// Rebuilds a state machine from `snapshot()` bytes. Throws on bytes that do not decode.
    public convenience init(snapshot bytes: [UInt8], configuration: MeterCoreConfiguration = MeterCoreConfiguration()) throws(DecodingError) {
        self.init(configuration: configuration)
        var reader = BinaryReader(bytes)
        let version = try reader.readVarint()
        guard (1...Self.snapshotFormatVersion).contains(version) else {
            throw DecodingError("unsupported snapshot format version \(version): this meterd reads versions 1-\(Self.snapshotFormatVersion); a newer meterd wrote it")
        }
        nextMeterNumber = try reader.readVarint()
        highWaterMilliseconds = try reader.readSigned()
        rolledBeforeMinute = try reader.readSigned()
        lastAppliedSequence = try reader.readVarint()

        var legacyIds: [LegacyRememberedId] = []
        for tenantNumber in 0..<(try reader.readCount()) {
            let tenant = TenantState(id: try reader.readString())
            tenant.eventsWithoutMeter = try reader.readVarint()
            for _ in 0..<(try reader.readCount()) {
                _ = tenant.customerNumber(for: try reader.readString())
            }
            if version == 1 {
                for order in 0..<(try reader.readCount()) {
                    let acceptedAt = try reader.readSigned()
                    let fingerprint = fingerprinter.fingerprint(tenantId: tenant.id, eventId: try reader.readString())
                    legacyIds.append(LegacyRememberedId(acceptedAtMilliseconds: acceptedAt, tenantNumber: tenantNumber, order: order, fingerprint: fingerprint))
                }
            }
            tenants[tenant.id] = tenant
        }
        if version == 1 {
            loadLegacyIds(legacyIds)
        } else {
            let keyCheck = try reader.readVarint()
            guard keyCheck == configuration.dedupKey.checkValue else {
                throw DecodingError("the snapshot's exactly-once index was made with another dedup key than this data directory's (the dedup-key file was replaced or lost); restore that file")
            }
            let bits = try reader.readVarint()
            guard bits == UInt64(configuration.dedupFingerprintBits) else {
                throw DecodingError("the snapshot's exactly-once index keeps \(bits)-bit fingerprints, the configuration \(configuration.dedupFingerprintBits)")
            }
            eventIds = try EventIdIndex.read(from: &reader)
            // Ids are remembered at the high-water time, never later: a snapshot saying otherwise
            // would make the next id go back in time.
            if let newest = eventIds.newestAcceptedAtMilliseconds, newest > highWaterMilliseconds {
                throw DecodingError("the snapshot's exactly-once index holds ids accepted after its high-water time")
            }
        }

        for _ in 0..<(try reader.readCount()) {
            let state = try readMeterState(from: &reader)
            metersById[state.meter.id] = state
            meterOrder.append(state.meter.id)
            if state.meter.status == .active {
                tenant(state.meter.definition.tenantId).activeMeterByEventName.set(state, for: state.meter.definition.eventName)
            }
        }
        if version >= 3 { try readAccess(from: &reader) }
        if version >= 4 { try readEntitlements(from: &reader) }
        guard reader.isAtEnd else { throw DecodingError("\(reader.remainingCount) unexpected bytes after snapshot") }
    }

    /// An id of a version 1 snapshot, where each tenant listed its own ids in acceptance order.
    private struct LegacyRememberedId {
        var acceptedAtMilliseconds: Int64
        var tenantNumber: Int
        var order: Int
        var fingerprint: UInt128
    }

    /// Builds the index from a version 1 snapshot's ids: all tenants' ids merged in time order
    /// (ties in tenant order, then each tenant's order), as one index wants them.
    private func loadLegacyIds(_ ids: [LegacyRememberedId]) {
        let sorted = ids.sorted { left, right in
            (left.acceptedAtMilliseconds, left.tenantNumber, left.order) < (right.acceptedAtMilliseconds, right.tenantNumber, right.order)
        }
        var index = EventIdIndex(minimumCapacity: sorted.count * 2)
        for id in sorted {
            _ = index.insert(id.fingerprint, acceptedAtMilliseconds: id.acceptedAtMilliseconds, firstLivePosition: index.tailPosition)
        }
        eventIds = index
    }

    private func readMeterState(from reader: inout BinaryReader) throws(DecodingError) -> MeterState {
        let id = try reader.readString()
        let definition = try RecordCodec.readDefinition(from: &reader)
        let statusName = try reader.readString()
        guard let status = MeterStatus(rawValue: statusName) else { throw DecodingError("unknown meter status \(statusName)") }
        let createdAt = try reader.readSigned()
        let archivedAt = try reader.readBool() ? try reader.readSigned() : nil
        let createdSequence = try reader.readVarint()
        var counters = MeterCounters()
        counters.counted = try reader.readVarint()
        counters.filteredOut = try reader.readVarint()
        counters.missingValue = try reader.readVarint()
        counters.overflowed = try reader.readVarint()
        var backfill = BackfillStatus()
        backfill.targetSequence = try reader.readVarint()
        backfill.completedThroughSequence = try reader.readVarint()
        backfill.eventsCounted = try reader.readVarint()
        let state = MeterState(meter: Meter(
            id: id, definition: definition, status: status, createdAtMilliseconds: createdAt,
            archivedAtMilliseconds: archivedAt, createdSequence: createdSequence, counters: counters, backfill: backfill))

        state.groups = []
        state.groupIndex = [:]
        for _ in 0..<(try reader.readCount()) {
            var group: [String?] = []
            for _ in 0..<(try reader.readCount()) { group.append(try reader.readOptionalString()) }
            state.groupIndex[group] = UInt32(state.groups.count)
            state.groups.append(group)
        }
        let customerCount = tenants[definition.tenantId]?.customerIndex.count ?? 0
        for _ in 0..<(try reader.readCount()) {
            let key = try reader.readVarint()
            let customer = UInt32(truncatingIfNeeded: key >> 32), group = UInt32(truncatingIfNeeded: key)
            guard Int(group) < state.groups.count, state.store.grouped || group == 0 else { throw DecodingError("series refers to unknown group") }
            guard Int(customer) < customerCount else { throw DecodingError("series refers to unknown customer \(customer)") }
            guard state.store.series(customer: customer, group: group) == nil else { throw DecodingError("series \(key) appears twice") }
            let series = state.store.create(customer: customer, group: group)
            try readAggregates(into: state, series: series, tier: .minutes, from: &reader)
            try readAggregates(into: state, series: series, tier: .hours, from: &reader)
            try readUniques(into: state, series: series, tier: .minutes, from: &reader)
            try readUniques(into: state, series: series, tier: .hours, from: &reader)
        }
        return state
    }

    private func readAggregates(into state: MeterState, series: Int, tier: SeriesStore.Tier, from reader: inout BinaryReader) throws(DecodingError) {
        let count = try reader.readCount()
        guard count <= PoolRun.maximumCount else { throw DecodingError("a series holds \(count) buckets, more than \(PoolRun.maximumCount)") }
        var last: Int64?
        for _ in 0..<count {
            let key = try reader.readSigned()
            var aggregate = Aggregate()
            aggregate.count = try reader.readSigned()
            aggregate.value = try reader.readSigned128()
            aggregate.latestTimestamp = try reader.readSigned()
            aggregate.latestSequence = try reader.readVarint()
            aggregate.latestIndex = UInt32(truncatingIfNeeded: try reader.readVarint())
            guard last.map({ $0 < key }) ?? true else { throw DecodingError("bucket keys out of order") }
            // Only LATEST meters keep the tie-break fields; every other meter's are the defaults.
            guard state.kind == .latest || (aggregate.latestTimestamp == .min && aggregate.latestSequence == 0 && aggregate.latestIndex == 0) else {
                throw DecodingError("a bucket of a \(state.kind) meter carries LATEST tie-break fields")
            }
            // COUNT and COUNT_UNIQUE buckets keep no value; theirs is always 0.
            guard state.store.pool.keepsValues || aggregate.value == 0 else {
                throw DecodingError("a bucket of a \(state.kind) meter carries a value")
            }
            last = key
            state.store.append(series: series, tier: tier, key: key, aggregate)
        }
    }

    private func readUniques(into state: MeterState, series: Int, tier: SeriesStore.Tier, from reader: inout BinaryReader) throws(DecodingError) {
        for _ in 0..<(try reader.readCount()) {
            let key = try reader.readSigned()
            guard state.kind == .countUnique else { throw DecodingError("distinct values in a bucket of a \(state.kind) meter") }
            let run = state.store.run(series, tier)
            let position = state.store.pool.lowerBound(run, key)
            guard position < run.count, state.store.pool.key(run, position) == key else {
                throw DecodingError("distinct values for bucket \(key), which the series does not have")
            }
            guard state.store.pool.uniqueCount(at: Int(run.start) + position) == 0 else { throw DecodingError("distinct values of bucket \(key) listed twice") }
            let count = try reader.readCount()
            guard count > 0, count <= PoolRun.maximumCount else { throw DecodingError("bucket \(key) lists \(count) distinct values") }
            for _ in 0..<count { state.store.insertUnique(try reader.readString(), series: series, tier: tier, at: position) }
        }
    }
}
