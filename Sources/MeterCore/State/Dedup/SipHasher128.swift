/// SipHash-2-4 with a 128-bit output (Aumasson and Bernstein's reference `siphash.c` with
/// `outlen = 16`), fed incrementally. Used for the keyed fingerprints of the exactly-once index;
/// checked against the reference test vectors in the tests.
struct SipHasher128 {
    private var v0: UInt64
    private var v1: UInt64
    private var v2: UInt64
    private var v3: UInt64
    /// Bytes not yet forming a whole 8-byte word, little-endian in the low bits.
    private var tail: UInt64 = 0
    private var tailCount: UInt64 = 0
    private var length: UInt64 = 0

    @inline(__always)
    init(key: DedupKey) {
        v0 = 0x736f_6d65_7073_6575 ^ key.first
        v1 = 0x646f_7261_6e64_6f6d ^ key.second ^ 0xee
        v2 = 0x6c79_6765_6e65_7261 ^ key.first
        v3 = 0x7465_6462_7974_6573 ^ key.second
    }

    @inline(__always)
    private mutating func round() {
        v0 = v0 &+ v1; v1 = rotate(v1, 13); v1 ^= v0; v0 = rotate(v0, 32)
        v2 = v2 &+ v3; v3 = rotate(v3, 16); v3 ^= v2
        v0 = v0 &+ v3; v3 = rotate(v3, 21); v3 ^= v0
        v2 = v2 &+ v1; v1 = rotate(v1, 17); v1 ^= v2; v2 = rotate(v2, 32)
    }

    @inline(__always)
    private func rotate(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 &- amount))
    }

    @inline(__always)
    private mutating func compress(_ word: UInt64) {
        v3 ^= word
        round(); round()
        v0 ^= word
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        length &+= 1
        appendToTail(byte)
    }

    @inline(__always)
    private mutating func appendToTail(_ byte: UInt8) {
        tail |= UInt64(byte) << (tailCount * 8)
        tailCount += 1
        if tailCount == 8 {
            compress(tail)
            tail = 0
            tailCount = 0
        }
    }

    /// Appends bytes a whole word at a time, shifting each word into the pending bytes when
    /// the message so far is not a multiple of 8 long.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return }
        length &+= UInt64(count)
        var index = 0
        let shift = tailCount * 8
        while index + 8 <= count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            if shift == 0 {
                compress(word)
            } else {
                compress(tail | (word << shift))
                tail = word >> (64 &- shift)
            }
            index += 8
        }
        while index < count {
            appendToTail(base.load(fromByteOffset: index, as: UInt8.self))
            index += 1
        }
    }

    /// The 128-bit hash: the first output word in the low 64 bits.
    @inline(__always)
    mutating func finalize() -> UInt128 {
        let last = ((length & 0xff) << 56) | tail
        compress(last)
        v2 ^= 0xee
        round(); round(); round(); round()
        let low = v0 ^ v1 ^ v2 ^ v3
        v1 ^= 0xdd
        round(); round(); round(); round()
        let high = v0 ^ v1 ^ v2 ^ v3
        return UInt128(high) << 64 | UInt128(low)
    }
}
