import MeterWireServer
import MeterCore
import MeterProto
import MeterWire

/// Access-control types to and from their protobuf messages.
extension ProtoConversions {
    static func proto(_ role: KeyRole) -> Meterd_V1_KeyRole {
        switch role {
        case .admin: return .admin
        case .ingest: return .ingest
        case .read: return .read
        }
    }

    static func role(_ proto: Meterd_V1_KeyRole) throws(RPCFailure) -> KeyRole {
        switch proto {
        case .admin: return .admin
        case .ingest: return .ingest
        case .read: return .read
        case .unspecified, .UNRECOGNIZED:
            throw RPCFailure(.invalidArgument, "role must be ADMIN, INGEST or READ", reason: RejectionCode.invalidKey.name)
        }
    }

    static func proto(_ key: ApiKey) -> Meterd_V1_ApiKey {
        var proto = Meterd_V1_ApiKey()
        proto.id = key.id
        proto.name = key.definition.name
        proto.role = Self.proto(key.definition.role)
        proto.tenantID = key.definition.tenantId
        proto.createdAtMs = key.createdAtMilliseconds
        proto.revokedAtMs = key.revokedAtMilliseconds ?? 0
        proto.createdBy = key.createdBy.description
        return proto
    }

    static func proto(_ entry: AuditEntry) -> Meterd_V1_AuditEntry {
        var proto = Meterd_V1_AuditEntry()
        proto.sequence = entry.sequence
        proto.atMs = entry.atMilliseconds
        proto.actor = entry.actor.description
        proto.actorKeyID = entry.actor.keyId ?? ""
        proto.action = entry.action.rawValue
        proto.targetID = entry.targetId
        proto.detail = entry.detail
        return proto
    }
}
