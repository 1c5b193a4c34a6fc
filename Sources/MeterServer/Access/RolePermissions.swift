import MeterCore
import MeterWire

/// Which methods each role may call. Admin may call everything; the others a fixed list, so a
/// method added later is admin-only until it is listed here.
enum RolePermissions {
    static let ingestMethods: Set<UInt16> = [MethodID.ingest.rawValue, MethodID.ingestBatch.rawValue]
    static let readMethods: Set<UInt16> = Set([
        MethodID.getMeter, .listMeters, .queryUsage, .currentUsage, .healthCheck, .serverInfo,
        .checkEntitlement, .listNotifications, .watchNotifications,
    ].map(\.rawValue))

    static func allows(_ role: KeyRole, method: UInt16) -> Bool {
        switch role {
        case .admin: return true
        case .ingest: return ingestMethods.contains(method)
        case .read: return readMethods.contains(method)
        }
    }
}
