import MeterCore
import MeterProto
import MeterWireServer

/// Entitlements, grants, threshold rules, checks and notifications to and from protobuf.
extension ProtoConversions {
    /// A decimal field's value; INVALID_ARGUMENT with `code` when it is not exact decimal text.
    static func decimal(_ text: String, field: String, code: RejectionCode) throws(RPCFailure) -> ExactDecimal {
        do {
            return try ExactDecimal(parsing: text)
        } catch {
            throw RPCFailure(.invalidArgument, "\(field) \"\(text.prefix(40))\" is not a decimal number", reason: code.name)
        }
    }

    static func enforcement(_ proto: Meterd_V1_Enforcement) throws(RPCFailure) -> EntitlementEnforcement {
        switch proto {
        case .unspecified, .hard: return .hard
        case .soft: return .soft
        default: throw RPCFailure(.invalidArgument, "enforcement must be HARD or SOFT", reason: RejectionCode.invalidEntitlement.name)
        }
    }

    static func proto(_ enforcement: EntitlementEnforcement) -> Meterd_V1_Enforcement {
        enforcement == .hard ? .hard : .soft
    }

    static func proto(_ entitlement: Entitlement) -> Meterd_V1_Entitlement {
        var proto = Meterd_V1_Entitlement()
        proto.meterID = entitlement.definition.meterId
        proto.customerID = entitlement.definition.customerId ?? ""
        proto.limit = entitlement.definition.limit.description
        proto.enforcement = Self.proto(entitlement.definition.enforcement)
        proto.updatedAtMs = entitlement.updatedAtMilliseconds
        return proto
    }

    static func proto(_ grant: Grant) -> Meterd_V1_Grant {
        var proto = Meterd_V1_Grant()
        proto.id = grant.id
        proto.meterID = grant.definition.meterId
        proto.customerID = grant.definition.customerId
        proto.amount = grant.definition.amount.description
        proto.effectiveFromMs = grant.definition.effectiveFromMilliseconds
        proto.expiresAtMs = grant.definition.expiresAtMilliseconds ?? 0
        proto.createdAtMs = grant.createdAtMilliseconds
        return proto
    }

    static func proto(_ rule: ThresholdRule) -> Meterd_V1_ThresholdRule {
        var proto = Meterd_V1_ThresholdRule()
        proto.id = rule.id
        proto.meterID = rule.definition.meterId
        proto.customerID = rule.definition.customerId ?? ""
        switch rule.definition.level {
        case .absolute(let value): proto.value = value.description
        case .percentOfEntitlement(let percent): proto.percent = percent.description
        }
        proto.createdAtMs = rule.createdAtMilliseconds
        return proto
    }

    static func proto(_ effect: EntitlementEffect) -> Meterd_V1_EntitlementEffect {
        var proto = Meterd_V1_EntitlementEffect()
        proto.hasAccess_p = effect.hasAccess
        proto.usage = effect.usage.description
        proto.limit = effect.limit.description
        proto.remaining = effect.remaining.description
        proto.crossed = effect.crossed
        return proto
    }

    static func proto(_ check: EntitlementCheck) -> Meterd_V1_CheckEntitlementResponse {
        var proto = Meterd_V1_CheckEntitlementResponse()
        proto.hasAccess_p = check.hasAccess
        proto.meterID = check.meterId
        proto.customerID = check.customerId
        proto.enforcement = Self.proto(check.enforcement)
        proto.isDefault = check.isDefault
        proto.usage = check.usage.description
        proto.limit = check.limit.description
        proto.granted = check.granted.description
        proto.remaining = check.remaining.description
        proto.overage = check.overage.description
        proto.periodStartMs = check.periodStartMilliseconds ?? 0
        proto.periodEndMs = check.periodEndMilliseconds ?? 0
        proto.atMs = check.atMilliseconds
        return proto
    }

    static func proto(_ notification: ThresholdNotification) -> Meterd_V1_Notification {
        var proto = Meterd_V1_Notification()
        proto.number = notification.number
        proto.ruleID = notification.ruleId
        proto.meterID = notification.meterId
        proto.customerID = notification.customerId
        proto.threshold = notification.threshold.description
        proto.usage = notification.usage.description
        proto.periodStartMs = notification.periodStartMilliseconds ?? 0
        proto.periodEndMs = notification.periodEndMilliseconds ?? 0
        proto.sequence = notification.sequence
        proto.atMs = notification.atMilliseconds
        return proto
    }
}
