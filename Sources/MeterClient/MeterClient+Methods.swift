import MeterProto
import MeterWire

/// Typed calls for every meterd method.
extension MeterClient {
    /// A reference to a meter by text: `mtr_...` is an id, anything else an event name.
    public static func reference(_ text: String) -> Meterd_V1_MeterReference {
        var reference = Meterd_V1_MeterReference()
        if text.hasPrefix("mtr_") {
            reference.id = text
        } else {
            reference.eventName = text
        }
        return reference
    }

    // MARK: Admin

    /// Creates a meter. ALREADY_EXISTS when an active meter has the event name.
    public func createMeter(_ definition: Meterd_V1_MeterDefinition, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Meter {
        var request = Meterd_V1_CreateMeterRequest()
        request.definition = definition
        return try await call(.createMeter, request, as: Meterd_V1_CreateMeterResponse.self, timeout: timeout).meter
    }

    /// The meter with this id, or the active (else latest archived) meter with this event name.
    public func getMeter(_ reference: Meterd_V1_MeterReference, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Meter {
        var request = Meterd_V1_GetMeterRequest()
        request.meter = reference
        return try await call(.getMeter, request, as: Meterd_V1_GetMeterResponse.self, timeout: timeout).meter
    }

    /// Every meter of the tenant, ordered by id, following page tokens to the last page.
    /// - Parameter pageSize: meters per page; 0 for the server's default.
    public func listMeters(includeArchived: Bool = false, pageSize: UInt32 = 0, timeout: Duration? = nil) async throws(MeterClientError) -> [Meterd_V1_Meter] {
        var meters: [Meterd_V1_Meter] = []
        var request = Meterd_V1_ListMetersRequest()
        request.includeArchived = includeArchived
        request.pageSize = pageSize
        var seenTokens: Set<String> = []
        while true {
            let page = try await call(.listMeters, request, as: Meterd_V1_ListMetersResponse.self, timeout: timeout)
            meters.append(contentsOf: page.meters)
            if page.nextPageToken.isEmpty {
                return meters
            }
            guard seenTokens.insert(page.nextPageToken).inserted else {
                throw .protocolViolation("the server repeated the page token \"\(page.nextPageToken)\"")
            }
            request.pageToken = page.nextPageToken
        }
    }

    /// Changes a meter's display name, the only field that can change.
    ///
    /// - Parameter immutableChanges: fields the caller would like to change but cannot
    ///   (filters, aggregation, event name, ...); sending them makes the server refuse the whole
    ///   update with FAILED_PRECONDITION and a message saying what to do instead.
    public func updateMeter(
        _ reference: Meterd_V1_MeterReference,
        displayName: String,
        immutableChanges: Meterd_V1_MeterDefinition? = nil,
        timeout: Duration? = nil
    ) async throws(MeterClientError) -> Meterd_V1_Meter {
        var request = Meterd_V1_UpdateMeterRequest()
        request.meter = reference
        request.displayName = displayName
        if let immutableChanges {
            request.immutableChanges = immutableChanges
        }
        return try await call(.updateMeter, request, as: Meterd_V1_UpdateMeterResponse.self, timeout: timeout).meter
    }

    /// Archives a meter: it stops counting, keeps its usage, and frees its event name.
    public func archiveMeter(_ reference: Meterd_V1_MeterReference, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_Meter {
        var request = Meterd_V1_ArchiveMeterRequest()
        request.meter = reference
        return try await call(.archiveMeter, request, as: Meterd_V1_ArchiveMeterResponse.self, timeout: timeout).meter
    }

    // MARK: Ingest

    /// Sends one event. A rejected event is a result with status REJECTED, not an error.
    public func ingest(_ event: Meterd_V1_Event, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_EventResult {
        var request = Meterd_V1_IngestRequest()
        request.event = event
        return try await call(.ingest, request, as: Meterd_V1_IngestResponse.self, timeout: timeout).result
    }

    /// Sends events, one result per event in order.
    ///
    /// More events than the server's `max_batch_events` are split into several batches, sent
    /// pipelined, and their results merged in order. If one of them fails the error is thrown;
    /// some other batches may have been accepted, so retry the whole call (with the same event
    /// ids, which the server counts once).
    ///
    /// `includeEntitlementEffects`: each accepted event on a meter with an entitlement for its
    /// customer carries `entitlement` in its result (has access, usage, limit, remaining, and
    /// whether this event crossed the limit), decided when the event was applied.
    public func ingestBatch(_ events: [Meterd_V1_Event], includeEntitlementEffects: Bool = false,
                            timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_IngestBatchResponse {
        let batchSize = max(1, serverLimits.maximumBatchEvents)
        if events.count <= batchSize {
            var request = Meterd_V1_IngestBatchRequest()
            request.events = events
            request.includeEntitlementEffects = includeEntitlementEffects
            return try await call(.ingestBatch, request, as: Meterd_V1_IngestBatchResponse.self, timeout: timeout)
        }
        let starts = Array(stride(from: 0, to: events.count, by: batchSize))
        var responses = [Meterd_V1_IngestBatchResponse?](repeating: nil, count: starts.count)
        var firstError: MeterClientError?
        await withTaskGroup(of: (Int, Result<Meterd_V1_IngestBatchResponse, MeterClientError>).self) { group in
            for (index, start) in starts.enumerated() {
                var request = Meterd_V1_IngestBatchRequest()
                request.events = Array(events[start..<min(start + batchSize, events.count)])
                request.includeEntitlementEffects = includeEntitlementEffects
                group.addTask {
                    do throws(MeterClientError) {
                        return (index, .success(try await self.call(.ingestBatch, request, as: Meterd_V1_IngestBatchResponse.self, timeout: timeout)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for await (index, result) in group {
                switch result {
                case .success(let response): responses[index] = response
                case .failure(let error): firstError = firstError ?? error
                }
            }
        }
        if let firstError {
            throw firstError
        }
        var merged = Meterd_V1_IngestBatchResponse()
        merged.results.reserveCapacity(events.count)
        for response in responses {
            guard let response else { continue }
            merged.results.append(contentsOf: response.results)
            merged.accepted += response.accepted
            merged.duplicates += response.duplicates
            merged.rejected += response.rejected
        }
        return merged
    }

    // MARK: Query

    /// Usage of a meter over a range, split into windows and optionally by customer and group.
    public func queryUsage(_ request: Meterd_V1_QueryUsageRequest, timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_QueryUsageResponse {
        try await call(.queryUsage, request, as: Meterd_V1_QueryUsageResponse.self, timeout: timeout)
    }

    /// Usage "now": the billing period containing the instant (PERIODIC meters) or the running
    /// total up to it (CUMULATIVE meters).
    /// - Parameters:
    ///   - customerId: only this customer's usage; empty for all customers.
    ///   - atMilliseconds: the instant in Unix ms; 0 for the server's now.
    public func currentUsage(
        _ reference: Meterd_V1_MeterReference,
        customerId: String = "",
        atMilliseconds: Int64 = 0,
        timeout: Duration? = nil
    ) async throws(MeterClientError) -> Meterd_V1_CurrentUsageResponse {
        var request = Meterd_V1_CurrentUsageRequest()
        request.meter = reference
        request.customerID = customerId
        request.atMs = atMilliseconds
        return try await call(.currentUsage, request, as: Meterd_V1_CurrentUsageResponse.self, timeout: timeout)
    }

    // MARK: Health

    /// Whether the server accepts writes (SERVING) or only reads (NOT_SERVING, with a message).
    public func healthCheck(timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_HealthCheckResponse {
        try await call(.healthCheck, Meterd_V1_HealthCheckRequest(), as: Meterd_V1_HealthCheckResponse.self, timeout: timeout)
    }

    /// The server's version, uptime, durability mode and log positions.
    public func serverInfo(timeout: Duration? = nil) async throws(MeterClientError) -> Meterd_V1_ServerInfoResponse {
        try await call(.serverInfo, Meterd_V1_ServerInfoRequest(), as: Meterd_V1_ServerInfoResponse.self, timeout: timeout)
    }
}
