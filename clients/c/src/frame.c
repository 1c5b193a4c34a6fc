/* frame.c: the preface and the 12-byte big-endian frame header (docs/protocol.md). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const uint8_t mc_preface[MC_PREFACE_SIZE] = {'M', 'T', 'R', 'D', 0x00, 0x01, 0x00, 0x00};

void mc_header_encode(const mc_header *h, uint8_t out[MC_HEADER_SIZE])
{
    out[0] = (uint8_t)(h->length >> 24);
    out[1] = (uint8_t)(h->length >> 16);
    out[2] = (uint8_t)(h->length >> 8);
    out[3] = (uint8_t)h->length;
    out[4] = h->type;
    out[5] = h->flags;
    out[6] = (uint8_t)(h->code >> 8);
    out[7] = (uint8_t)h->code;
    out[8] = (uint8_t)(h->stream_id >> 24);
    out[9] = (uint8_t)(h->stream_id >> 16);
    out[10] = (uint8_t)(h->stream_id >> 8);
    out[11] = (uint8_t)h->stream_id;
}

void mc_header_decode(const uint8_t in[MC_HEADER_SIZE], mc_header *h)
{
    h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    h->type = in[4];
    h->flags = in[5];
    h->code = (uint16_t)(in[6] << 8 | in[7]);
    h->stream_id = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 | (uint32_t)in[10] << 8 | in[11];
}

uint8_t *mc_frame_encode(mc_header *header, const ProtobufCMessage *message, size_t *size)
{
    size_t payload = message ? protobuf_c_message_get_packed_size(message) : 0;
    if (payload > UINT32_MAX)
        return NULL;
    uint8_t *buf = malloc(MC_HEADER_SIZE + payload);
    if (!buf)
        return NULL;
    header->length = (uint32_t)payload;
    mc_header_encode(header, buf);
    if (message)
        protobuf_c_message_pack(message, buf + MC_HEADER_SIZE);
    *size = MC_HEADER_SIZE + payload;
    return buf;
}
