import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// CheckEntitlement in partitioned cluster mode (docs/cluster.md, "Entitlements"): entitlements,
/// grants and threshold rules are on the meta subject, which every partition engine applies,
/// but a customer's usage is only in its partition's engine, so the check is answered there:
/// by this node's engine of the partition, or by its owner (forwarded). The partition's engine
/// first applies every record the stream held when the check arrived (a read barrier,
/// `PartitionedEngines.readBarrier`), so a check sees every change and event acknowledged
/// before it was asked, on whichever node they were made.
extension ClusterAccess {
    /// The check of `customerId`'s entitlement to `reference` at `atMilliseconds` (nil: now by
    /// this node's system clock, fixed here so that the owner answers at the same instant).
    /// `answer` builds the reply from the check, in synchronous code (on the engine's writer,
    /// or right after reading the owner's reply): no `ExactDecimal` lives in an async frame.
    public func checkEntitlement<Value: Sendable>(
        tenantId: String, meter reference: MeterReference, customerId: String, atMilliseconds: Int64?, forwarded: Bool = false,
        answer: @escaping (EntitlementCheck) -> Value
    ) async throws(RPCFailure) -> Value {
        let engine = engine
        let meterId = try await engineCall { () async throws(EngineError) in try await engine.meter(tenantId: tenantId, reference).id }
        let at = atMilliseconds ?? EngineOptions.systemClock()
        guard !customerId.isEmpty else {
            throw RPCFailure(.invalidArgument, "name the customer to check", reason: RejectionCode.invalidQuery.name)
        }
        let partition = partitions.partition(tenantId: tenantId, customerId: customerId)
        let route = partitions.route(partition: partition)
        switch route {
        case .local:
            let partitions = partitions
            return try await engineCall { () async throws(EngineError) in
                let owner = try await partitions.readBarrier(partition: partition)
                return try await owner.checkEntitlement(tenantId: tenantId, meter: .id(meterId), customerId: customerId, atMilliseconds: at, answer: answer)
            }
        case .remote(let owner, let address) where !forwarded:
            var request = Meterd_V1_CheckEntitlementRequest()
            request.meter.id = meterId
            request.customerID = customerId
            request.atMs = at
            let response = try await forwarder.call(.checkEntitlement, request, as: Meterd_V1_CheckEntitlementResponse.self,
                                                    owner: owner, address: address, tenantId: tenantId)
            return try Self.check(response, answer: answer)
        default:
            throw RPCFailure(route.refusal(partition: partition)!)
        }
    }

    /// The owner's reply read back as the check it was made from, handed to `answer`.
    static func check<Value>(_ proto: Meterd_V1_CheckEntitlementResponse, answer: (EntitlementCheck) -> Value) throws(RPCFailure) -> Value {
        func decimal(_ text: String, _ field: String) throws(RPCFailure) -> ExactDecimal {
            do {
                return try ExactDecimal(parsing: text)
            } catch {
                throw RPCFailure(.unavailable, "the partition's owner answered \(field) \"\(text.prefix(64))\", not a decimal; retry")
            }
        }
        let enforcement: EntitlementEnforcement
        switch proto.enforcement {
        case .soft: enforcement = .soft
        default: enforcement = .hard
        }
        let check = EntitlementCheck(
            meterId: proto.meterID, customerId: proto.customerID, hasAccess: proto.hasAccess_p, enforcement: enforcement,
            isDefault: proto.isDefault, usage: try decimal(proto.usage, "usage"), limit: try decimal(proto.limit, "limit"),
            granted: try decimal(proto.granted, "granted"), remaining: try decimal(proto.remaining, "remaining"),
            overage: try decimal(proto.overage, "overage"),
            periodStartMilliseconds: proto.periodStartMs == 0 && proto.periodEndMs == 0 ? nil : proto.periodStartMs,
            periodEndMilliseconds: proto.periodStartMs == 0 && proto.periodEndMs == 0 ? nil : proto.periodEndMs,
            atMilliseconds: proto.atMs)
        return answer(check)
    }

    /// ListNotifications in cluster mode: threshold notifications are raised by the partition
    /// engine of the customer whose usage crossed the rule, and numbered by that partition (its
    /// own 1, 2, 3, ...), so there is no cluster-wide cursor: the listing is every notification
    /// of the tenant, from every partition (this node's engines, each other owner once for the
    /// partitions it holds, named in the forwarded request), ordered by time, then partition,
    /// then the partition's number; at most `limit`. `afterNumber` and `waitMilliseconds` must
    /// be 0. Every partition first applies the stream as it was when the listing arrived.
    public func notifications(tenantId: String, afterNumber: UInt64, limit: Int, waitMilliseconds: UInt32, only: [UInt32] = [],
                              forwarded: Bool = false) async throws(RPCFailure) -> Meterd_V1_ListNotificationsResponse {
        guard afterNumber == 0, waitMilliseconds == 0 else {
            throw RPCFailure(.invalidArgument, "in cluster mode notifications are numbered per partition and listed whole: "
                             + "give after_number 0 and wait_ms 0 (a cursor over every partition is not built; docs/cluster.md)",
                             reason: RejectionCode.invalidQuery.name)
        }
        let plan = try scatterPlan(customerId: nil, tenantId: tenantId, only: only, forwarded: forwarded)
        let forwarder = forwarder
        let partitions = partitions
        let parts = await withTaskGroup(of: Result<[Meterd_V1_Notification], RPCFailure>.self) { group in
            for partition in plan.localPartitions {
                group.addTask {
                    do throws(EngineError) {
                        let engine = try await partitions.readBarrier(partition: partition)
                        return .success(try await engine.notificationPage(tenantId: tenantId, afterNumber: 0, limit: limit, waitMilliseconds: 0) { found, _ in
                            found.map(ProtoConversions.proto)
                        })
                    } catch {
                        return .failure(RPCFailure(error))
                    }
                }
            }
            for owner in plan.remote {
                group.addTask {
                    do throws(RPCFailure) {
                        var request = Meterd_V1_ListNotificationsRequest()
                        request.limit = UInt32(limit)
                        request.partitions = owner.partitions
                        let response = try await forwarder.call(.listNotifications, request, as: Meterd_V1_ListNotificationsResponse.self,
                                                                owner: owner.name, address: owner.address, tenantId: tenantId)
                        return .success(response.notifications)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var parts: [Result<[Meterd_V1_Notification], RPCFailure>] = []
            for await part in group { parts.append(part) }
            return parts
        }
        var all: [(partition: Int, notification: Meterd_V1_Notification)] = []
        for part in parts {
            for notification in try part.get() {
                all.append((partitions.partition(tenantId: tenantId, customerId: notification.customerID), notification))
            }
        }
        all.sort { ($0.notification.atMs, $0.partition, $0.notification.number) < ($1.notification.atMs, $1.partition, $1.notification.number) }
        var response = Meterd_V1_ListNotificationsResponse()
        response.notifications = all.prefix(limit).map(\.notification)
        return response
    }
}
