import MeterCluster
import XCTest

/// The partition of (tenant, customer): stable, spread, and sensitive to where the ids split.
final class ClusterPartitioningTests: XCTestCase {
    /// Fixed values: a change of the function would move customers between partitions of an
    /// existing stream, so it must not change silently.
    func testThePartitionOfACustomerIsFixedByItsIds() {
        let values = (0..<6).map { ClusterPartitioning.partition(tenantId: "default", customerId: "customer-\($0)", partitions: 8) }
        XCTAssertEqual(values, ClusterPartitioningTests.expected, "the partition function changed: \(values)")
        XCTAssertEqual(ClusterPartitioning.partition(tenantId: "default", customerId: "customer-0", partitions: 1), 0)
    }

    static let expected = (0..<6).map { fnvReference(tenant: "default", customer: "customer-\($0)") }

    /// FNV-1a 64 written out independently: tenant bytes, 0xFF, customer bytes.
    static func fnvReference(tenant: String, customer: String) -> Int {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in Array(tenant.utf8) + [0xFF] + Array(customer.utf8) {
            hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
        }
        return Int(hash % 8)
    }

    func testTheTenantAndCustomerBoundaryMatters() {
        var differing = 0
        for index in 0..<64 {
            let a = ClusterPartitioning.partition(tenantId: "ab\(index)", customerId: "c", partitions: 1024)
            let b = ClusterPartitioning.partition(tenantId: "ab", customerId: "\(index)c", partitions: 1024)
            if a != b { differing += 1 }
        }
        XCTAssertGreaterThan(differing, 60)
    }

    func testCustomersSpreadOverEveryPartition() {
        var counts = Array(repeating: 0, count: 8)
        for index in 0..<8_000 { counts[ClusterPartitioning.partition(tenantId: "t", customerId: "customer-\(index)", partitions: 8)] += 1 }
        for count in counts { XCTAssert((800...1_200).contains(count), "uneven spread: \(counts)") }
    }
}
