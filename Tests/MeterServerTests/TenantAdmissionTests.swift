@testable import MeterServer
import MeterProto
import MeterWireServer
import XCTest

/// meterd admits the tenant a handshake names ("default" for none) when it is a well-formed
/// name, and refuses any other with the rule in the reason (docs/protocol.md, "Connection").
final class TenantAdmissionTests: XCTestCase {
    private func handshake(tenant: String) -> Meterd_V1_Handshake {
        var handshake = Meterd_V1_Handshake()
        handshake.tenantID = tenant
        return handshake
    }

    private func admitted(_ requested: String) -> String? {
        try? TenantAdmission.wellFormedName.admit(handshake(tenant: requested)).get()
    }

    func testAWellFormedTenantIsAdmittedAndNoneMeansDefault() {
        XCTAssertEqual(admitted("acme-eu.1"), "acme-eu.1")
        XCTAssertEqual(admitted(""), "default")
    }

    func testAMalformedTenantIsRefusedWithTheRule() {
        for requested in ["Bad Tenant", String(repeating: "a", count: 65), "tenant/1"] {
            guard case .failure(let refusal) = TenantAdmission.wellFormedName.admit(handshake(tenant: requested)) else {
                return XCTFail("\(requested) was admitted")
            }
            XCTAssertTrue(refusal.reason.contains("is invalid: use 1-64 characters of a-z, 0-9, '_', '.', '-'"), refusal.reason)
        }
    }
}
