/* client.c: connection lifecycle (preface, handshake, close) and the request/response call. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MC_DEFAULT_TIMEOUT_MS 30000

static int effective_timeout(int timeout_ms)
{
    return timeout_ms > 0 ? timeout_ms : MC_DEFAULT_TIMEOUT_MS;
}

/* Closes the socket after a transport failure; the client stays allocated. */
static void mark_broken(meter_client *c)
{
    mc_conn_close(&c->conn);
}

/* Reads one frame: header and a malloc'd payload (NULL when empty). 0 or a status code. */
static int read_frame(meter_client *c, int64_t deadline, mc_header *h, uint8_t **payload,
                      meter_error *error)
{
    uint8_t raw[MC_HEADER_SIZE];
    *payload = NULL;
    int rc = mc_read_exact(&c->conn, raw, sizeof raw, deadline, error);
    if (rc)
        return rc;
    mc_header_decode(raw, h);
    if (h->length > MC_DEFAULT_MAX_FRAME)
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "frame of %u bytes exceeds the %u-byte limit",
                       h->length, MC_DEFAULT_MAX_FRAME);
    if (h->length == 0)
        return 0;
    *payload = malloc(h->length);
    if (!*payload)
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    rc = mc_read_exact(&c->conn, *payload, h->length, deadline, error);
    if (rc) {
        free(*payload);
        *payload = NULL;
    }
    return rc;
}

/* Fills *error from a GOAWAY payload. */
static int goaway_error(const uint8_t *payload, uint32_t length, const char *context,
                        uint32_t *last_stream_id, meter_error *error)
{
    Meterd__V1__GoAway *g = meterd__v1__go_away__unpack(NULL, length, payload);
    if (last_stream_id)
        *last_stream_id = g ? g->last_stream_id : 0;
    mc_fail(error, METER_UNAVAILABLE, "GOAWAY", "%s: %s", context, g ? g->reason : "(malformed GOAWAY)");
    if (g)
        meterd__v1__go_away__free_unpacked(g, NULL);
    return METER_UNAVAILABLE;
}

static int handshake(meter_client *c, const char *tenant, const char *credential, int64_t deadline,
                     meter_error *error)
{
    Meterd__V1__Handshake hs = METERD__V1__HANDSHAKE__INIT;
    hs.protocol_version = MC_PROTOCOL_VERSION;
    hs.client_name = (char *)"libmeterclient/1.0";
    hs.tenant_id = (char *)(tenant ? tenant : "");
    hs.credential = (char *)(credential ? credential : "");
    hs.max_frame_bytes = MC_DEFAULT_MAX_FRAME;

    mc_header h = {.type = MC_FRAME_HANDSHAKE};
    size_t frame_size;
    uint8_t *frame = mc_frame_encode(&h, &hs.base, &frame_size);
    if (!frame)
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    uint8_t *buf = malloc(MC_PREFACE_SIZE + frame_size);
    if (!buf) {
        free(frame);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    memcpy(buf, mc_preface, MC_PREFACE_SIZE);
    memcpy(buf + MC_PREFACE_SIZE, frame, frame_size);
    free(frame);
    int rc = mc_write_all(&c->conn, buf, MC_PREFACE_SIZE + frame_size, deadline, error);
    free(buf);
    if (rc)
        return rc;

    uint8_t *payload;
    rc = read_frame(c, deadline, &h, &payload, error);
    if (rc)
        return rc;
    if (h.type == MC_FRAME_GOAWAY) {
        rc = goaway_error(payload, h.length, "the server refused the handshake", NULL, error);
        free(payload);
        if (h.code != 0) {
            /* A refused credential: UNAUTHENTICATED or PERMISSION_DENIED in the header's code. */
            error->code = h.code;
            rc = h.code;
        }
        return rc;
    }
    if (h.type != MC_FRAME_HANDSHAKE_ACK) {
        free(payload);
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "expected HANDSHAKE_ACK, got frame type %u", h.type);
    }
    Meterd__V1__HandshakeAck *ack = meterd__v1__handshake_ack__unpack(NULL, h.length, payload);
    free(payload);
    if (!ack)
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "malformed HANDSHAKE_ACK");
    c->max_frame_bytes = ack->max_frame_bytes ? ack->max_frame_bytes : MC_DEFAULT_MAX_FRAME;
    c->max_batch_events = ack->max_batch_events ? ack->max_batch_events : 10000;
    c->max_in_flight = ack->max_in_flight ? ack->max_in_flight : 64;
    c->tenant = mc_strdup(ack->tenant_id);
    c->server_version = mc_strdup(ack->server_version);
    c->server_streams = ack->server_streams ? 1 : 0;
    meterd__v1__handshake_ack__free_unpacked(ack, NULL);
    if (!c->tenant || !c->server_version)
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    return 0;
}

meter_client *meter_connect_with_options(const char *address, const char *tenant,
                                         const meter_connect_options *options, meter_error *error)
{
    static const meter_connect_options defaults = {0};
    if (!options)
        options = &defaults;
    mc_clear(error);
    meter_client *c = calloc(1, sizeof *c);
    if (!c) {
        mc_fail(error, METER_INTERNAL, "", "out of memory");
        return NULL;
    }
    c->conn.fd = -1;
    c->timeout_ms = effective_timeout(options->timeout_ms);
    c->next_stream_id = 1;
    int64_t deadline = mc_now_ms() + c->timeout_ms;
    const char *credential = options->api_key ? options->api_key : getenv("METERD_API_KEY");
    char host[256];
    c->conn.fd = mc_transport_connect(address, deadline, host, sizeof host, error);
    int failed = c->conn.fd < 0;
    if (!failed && options->tls) {
        if (!host[0]) {
            mc_fail(error, METER_INVALID_ARGUMENT, "TLS", "TLS is for TCP addresses, not the Unix socket \"%s\"", address);
            failed = 1;
        } else {
            failed = mc_tls_start(&c->conn, host, options, deadline, error) != 0;
        }
    }
    if (failed || handshake(c, tenant, credential, deadline, error) != 0) {
        meter_close(c);
        return NULL;
    }
    return c;
}

meter_client *meter_connect_with_credential(const char *address, const char *tenant,
                                            const char *credential, int timeout_ms,
                                            meter_error *error)
{
    meter_connect_options options = {.api_key = credential, .timeout_ms = timeout_ms};
    return meter_connect_with_options(address, tenant, &options, error);
}

meter_client *meter_connect_with_api_key(const char *address, const char *tenant, const char *api_key,
                                         int timeout_ms, meter_error *error)
{
    return meter_connect_with_credential(address, tenant, api_key, timeout_ms, error);
}

meter_client *meter_connect(const char *address, const char *tenant, int timeout_ms, meter_error *error)
{
    return meter_connect_with_credential(address, tenant, NULL, timeout_ms, error);
}

void meter_close(meter_client *c)
{
    if (!c)
        return;
    mark_broken(c);
    free(c->tenant);
    free(c->server_version);
    free(c);
}

void meter_set_timeout(meter_client *c, int timeout_ms)
{
    if (c)
        c->timeout_ms = effective_timeout(timeout_ms);
}

const char *meter_tenant(const meter_client *c) { return c && c->tenant ? c->tenant : ""; }
uint32_t meter_max_batch_events(const meter_client *c) { return c ? c->max_batch_events : 0; }
int meter_is_connected(const meter_client *c) { return c && c->conn.fd >= 0; }

/* Turns a RESPONSE into *response or *error. The connection stays usable either way. */
static int decode_response(const mc_header *h, const uint8_t *payload,
                           const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **response,
                           meter_error *error)
{
    if (h->code != 0) {
        Meterd__V1__ErrorDetail *d = meterd__v1__error_detail__unpack(NULL, h->length, payload);
        if (!d)
            return mc_fail(error, h->code, "", "%s (malformed ErrorDetail)", meter_status_name(h->code));
        mc_fail(error, h->code, d->reason, "%s", d->message);
        meterd__v1__error_detail__free_unpacked(d, NULL);
        return h->code;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(descriptor, NULL, h->length, payload);
    if (!m)
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "malformed %s", descriptor->short_name);
    if (response)
        *response = m;
    else
        protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

/* Sends a whole frame; a failure closes the connection. */
static int send_frame(meter_client *c, const uint8_t *frame, size_t size, int64_t deadline, meter_error *error)
{
    int rc = mc_write_all(&c->conn, frame, size, deadline, error);
    if (rc)
        mark_broken(c);
    return rc;
}

/* Reads frames until one of `type` arrives on `stream` (RESPONSE or PONG), skipping answers
 * to abandoned requests. A GOAWAY that still covers the stream is remembered and reading goes
 * on; any other GOAWAY, a transport failure or a protocol error closes the connection. */
static int await_frame(meter_client *c, uint8_t type, uint32_t stream, int64_t deadline, mc_header *h,
                       uint8_t **payload, meter_error *error)
{
    int goaway_seen = 0;
    for (;;) {
        int rc = read_frame(c, deadline, h, payload, error);
        if (rc) {
            if (goaway_seen && rc == METER_UNAVAILABLE)
                mc_fail(error, METER_UNAVAILABLE, "GOAWAY", "the server closed the connection (GOAWAY)");
            mark_broken(c);
            return rc;
        }
        if (h->type == type && h->stream_id == stream)
            return 0;
        if (h->type == MC_FRAME_GOAWAY) {
            uint32_t last = 0;
            rc = goaway_error(*payload, h->length, "the server is closing the connection", &last, error);
            free(*payload);
            *payload = NULL;
            if (type == MC_FRAME_RESPONSE && last != 0 && last >= stream) {
                goaway_seen = 1; /* our request was accepted and will still be answered */
                continue;
            }
            mark_broken(c);
            return rc;
        }
        free(*payload);
        *payload = NULL;
        if (h->type == MC_FRAME_RESPONSE || h->type == MC_FRAME_PONG)
            continue; /* the answer to an earlier, abandoned request or ping */
        mark_broken(c);
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "unexpected frame type %u", h->type);
    }
}

static uint32_t next_stream(meter_client *c)
{
    uint32_t stream = c->next_stream_id++;
    if (c->next_stream_id == 0)
        c->next_stream_id = 1;
    return stream;
}

int mc_call(meter_client *c, uint16_t method, const ProtobufCMessage *request,
            const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **response,
            meter_error *error)
{
    mc_clear(error);
    if (response)
        *response = NULL;
    if (!c || c->conn.fd < 0)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED",
                       "the connection is closed; connect again");

    uint32_t stream = next_stream(c);
    mc_header h = {.type = MC_FRAME_REQUEST, .code = method, .stream_id = stream};
    size_t size;
    uint8_t *frame = mc_frame_encode(&h, request, &size);
    if (!frame)
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    if (h.length > c->max_frame_bytes) {
        free(frame);
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "request of %u bytes exceeds the server's %u-byte frame limit",
                       h.length, c->max_frame_bytes);
    }
    int64_t deadline = mc_now_ms() + c->timeout_ms;
    int rc = send_frame(c, frame, size, deadline, error);
    free(frame);
    if (rc)
        return rc;
    uint8_t *payload;
    rc = await_frame(c, MC_FRAME_RESPONSE, stream, deadline, &h, &payload, error);
    if (rc)
        return rc;
    rc = decode_response(&h, payload, response_descriptor, response, error);
    free(payload);
    return rc;
}

int meter_ping(meter_client *c, int64_t *round_trip_us, meter_error *error)
{
    mc_clear(error);
    if (!c || c->conn.fd < 0)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED",
                       "the connection is closed; connect again");
    uint32_t stream = next_stream(c);
    int64_t start = mc_now_us();
    uint8_t frame[MC_HEADER_SIZE + 8];
    mc_header h = {.length = 8, .type = MC_FRAME_PING, .stream_id = stream};
    mc_header_encode(&h, frame);
    for (int i = 0; i < 8; i++)
        frame[MC_HEADER_SIZE + i] = (uint8_t)(start >> (56 - 8 * i));
    int64_t deadline = mc_now_ms() + c->timeout_ms;
    int rc = send_frame(c, frame, sizeof frame, deadline, error);
    if (rc)
        return rc;
    uint8_t *payload;
    rc = await_frame(c, MC_FRAME_PONG, stream, deadline, &h, &payload, error);
    if (rc)
        return rc;
    int same = h.length == 8 && memcmp(payload, frame + MC_HEADER_SIZE, 8) == 0;
    free(payload);
    if (!same) {
        mark_broken(c);
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "PONG does not echo the PING payload");
    }
    if (round_trip_us)
        *round_trip_us = mc_now_us() - start;
    return 0;
}

int mc_call_with_arena(meter_client *c, uint16_t method, mc_arena *arena, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **response,
                       meter_error *error)
{
    if (arena->failed) {
        mc_arena_free(arena);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    int rc = mc_call(c, method, request, response_descriptor, response, error);
    mc_arena_free(arena);
    return rc;
}

int mc_stream_call(meter_client *c, uint16_t method, const ProtobufCMessage *request,
                   int (*on_message)(const uint8_t *payload, size_t length, void *user), void *user,
                   int max_wait_ms, meter_error *error)
{
    mc_clear(error);
    if (!c || c->conn.fd < 0)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED",
                       "the connection is closed; connect again");
    uint32_t stream = next_stream(c);
    mc_header h = {.type = MC_FRAME_REQUEST, .code = method, .stream_id = stream};
    size_t size;
    uint8_t *frame = mc_frame_encode(&h, request, &size);
    if (!frame)
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    int rc = send_frame(c, frame, size, mc_now_ms() + c->timeout_ms, error);
    free(frame);
    if (rc)
        return rc;
    int cancelled = 0;
    for (;;) {
        /* No deadline by default: a watch waits as long as it takes for the next notification. */
        int64_t deadline = max_wait_ms > 0 ? mc_now_ms() + max_wait_ms : INT64_MAX / 4;
        uint8_t *payload;
        rc = read_frame(c, deadline, &h, &payload, error);
        if (rc) {
            mark_broken(c);
            return rc;
        }
        if (h.type == MC_FRAME_MESSAGE && h.stream_id == stream) {
            int stop = cancelled ? 0 : on_message(payload, h.length, user);
            free(payload);
            if (stop) {
                cancelled = 1;
                if (c->server_streams) {
                    uint8_t cancel[MC_HEADER_SIZE];
                    mc_header ch = {.type = MC_FRAME_CANCEL, .stream_id = stream};
                    mc_header_encode(&ch, cancel);
                    rc = send_frame(c, cancel, sizeof cancel, mc_now_ms() + c->timeout_ms, error);
                    if (rc)
                        return rc;
                }
            }
            continue;
        }
        if (h.type == MC_FRAME_RESPONSE && h.stream_id == stream) {
            if (cancelled && h.code == METER_CANCELLED)
                h.code = 0;
            if (h.code == 0)
                mc_clear(error); /* a GOAWAY covering the stream may have filled it */
            rc = h.code == 0 ? 0 : decode_response(&h, payload, NULL, NULL, error);
            free(payload);
            return rc;
        }
        if (h.type == MC_FRAME_GOAWAY) {
            uint32_t last = 0;
            rc = goaway_error(payload, h.length, "the server is closing the connection", &last, error);
            free(payload);
            if (last != 0 && last >= stream)
                continue; /* the stream was accepted: its RESPONSE comes before the GOAWAY */
            mark_broken(c);
            return rc;
        }
        free(payload);
        if (h.type == MC_FRAME_RESPONSE || h.type == MC_FRAME_PONG || h.type == MC_FRAME_MESSAGE)
            continue; /* for an earlier, abandoned request */
        mark_broken(c);
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "unexpected frame type %u", h.type);
    }
}

int mc_call_for_status(meter_client *c, uint16_t method, mc_arena *arena, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *response_descriptor, meter_error *error)
{
    ProtobufCMessage *response = NULL;
    int rc = arena ? mc_call_with_arena(c, method, arena, request, response_descriptor, &response, error)
                   : mc_call(c, method, request, response_descriptor, &response, error);
    if (rc == 0 && response)
        protobuf_c_message_free_unpacked(response, NULL);
    return rc;
}
