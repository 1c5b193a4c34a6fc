#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the CRC-32C instruction (x86-64 SSE 4.2).
int meter_crc32c_hardware_available(void);

/// Advances a raw CRC-32C register (no pre- or post-inversion) over `count` bytes with the
/// CPU's CRC-32C instruction. Call only when `meter_crc32c_hardware_available()` is non-zero.
uint32_t meter_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count);

#endif
