/// Which event partition a customer's events go to (docs/cluster.md, "Partitions").
///
/// FNV-1a (64-bit) over the tenant id's UTF-8 bytes, a 0xFF separator (a byte that UTF-8 never
/// contains, so ("ab", "c") and ("a", "bc") differ) and the customer id's bytes, modulo the
/// partition count fixed when the cluster was created. Fixed by the bytes of the ids, so every
/// node and every version of meterd agrees; one customer's events always land in one
/// partition, in order.
public enum ClusterPartitioning {
    public static func partition(tenantId: String, customerId: String, partitions: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in tenantId.utf8 { mix(byte) }
        mix(0xFF)
        for byte in customerId.utf8 { mix(byte) }
        return Int(hash % UInt64(max(1, partitions)))
    }
}
