/* internal.h: what the library's files share; not installed. */
#ifndef METERCLIENT_INTERNAL_H
#define METERCLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "meterclient.h"
#include "meterd/v1/meterd.pb-c.h"

/* ---- Wire format (frame.c) ---- */

#define MC_PREFACE_SIZE 8
#define MC_HEADER_SIZE 12
#define MC_PROTOCOL_VERSION 1
#define MC_DEFAULT_MAX_FRAME (4u * 1024u * 1024u)

extern const uint8_t mc_preface[MC_PREFACE_SIZE];

enum mc_frame_type {
    MC_FRAME_REQUEST = 1,
    MC_FRAME_RESPONSE = 2,
    MC_FRAME_HANDSHAKE = 3,
    MC_FRAME_HANDSHAKE_ACK = 4,
    MC_FRAME_PING = 5,
    MC_FRAME_PONG = 6,
    MC_FRAME_GOAWAY = 7,
    MC_FRAME_MESSAGE = 8, /* server: one message of a server stream */
    MC_FRAME_CANCEL = 9   /* client: end one of its server streams */
};

/* Method ids, carried in a REQUEST header's code. */
enum mc_method {
    MC_METHOD_CREATE_METER = 1,
    MC_METHOD_GET_METER = 2,
    MC_METHOD_LIST_METERS = 3,
    MC_METHOD_UPDATE_METER = 4,
    MC_METHOD_ARCHIVE_METER = 5,
    MC_METHOD_INGEST = 16,
    MC_METHOD_INGEST_BATCH = 17,
    MC_METHOD_QUERY_USAGE = 32,
    MC_METHOD_CURRENT_USAGE = 33,
    MC_METHOD_HEALTH_CHECK = 48,
    MC_METHOD_SERVER_INFO = 49,
    MC_METHOD_SET_ENTITLEMENT = 80,
    MC_METHOD_REMOVE_ENTITLEMENT = 82,
    MC_METHOD_ADD_GRANT = 83,
    MC_METHOD_REMOVE_GRANT = 84,
    MC_METHOD_CHECK_ENTITLEMENT = 85,
    MC_METHOD_ADD_THRESHOLD_RULE = 86,
    MC_METHOD_LIST_THRESHOLD_RULES = 87,
    MC_METHOD_REMOVE_THRESHOLD_RULE = 88,
    MC_METHOD_LIST_NOTIFICATIONS = 89,
    MC_METHOD_WATCH_NOTIFICATIONS = 91
};

typedef struct mc_header {
    uint32_t length;
    uint8_t type;
    uint8_t flags;
    uint16_t code;
    uint32_t stream_id;
} mc_header;

void mc_header_encode(const mc_header *header, uint8_t out[MC_HEADER_SIZE]);
void mc_header_decode(const uint8_t in[MC_HEADER_SIZE], mc_header *header);

/* Encodes header + packed message into a malloc'd buffer (*size bytes); NULL when out of
 * memory. message may be NULL for an empty payload. header->length is set here. */
uint8_t *mc_frame_encode(mc_header *header, const ProtobufCMessage *message, size_t *size);

/* ---- Arena (arena.c): allocations freed all at once, for building requests ---- */

typedef struct mc_arena {
    void **blocks;
    size_t n, cap;
    int failed; /* an allocation failed: the built request must not be used */
} mc_arena;

void *mc_alloc(mc_arena *arena, size_t size);        /* zeroed; NULL sets failed */
char *mc_str(mc_arena *arena, const char *text);     /* copy; NULL or "" gives "" (not owned) */
void mc_arena_free(mc_arena *arena);

/* Copies text into a malloc'd string ("" for NULL); NULL when out of memory. */
char *mc_strdup(const char *text);

/* ---- Errors (error.c) ---- */

/* Fills *error (if not NULL) and returns code. */
int mc_fail(meter_error *error, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void mc_clear(meter_error *error);
void mc_copy_text(char *dst, size_t size, const char *src);

/* ---- Transport (transport.c, tls.c) ---- */

struct ssl_st;
struct ssl_ctx_st;
struct bio_method_st;

/* One connection: the socket and, over TLS, OpenSSL's session on it. */
typedef struct mc_conn {
    int fd;                         /* -1 once closed */
    struct ssl_st *ssl;             /* NULL without TLS */
    struct ssl_ctx_st *ssl_ctx;
    struct bio_method_st *bio_method;
} mc_conn;

/* Returns a connected socket (non-blocking, close-on-exec) or -1 with *error filled. For a TCP
 * address, host (host_size bytes) receives its host; for a Unix socket it is set to "". */
int mc_transport_connect(const char *address, int64_t deadline_ms, char *host, size_t host_size,
                         meter_error *error);
/* Writes all bytes before the deadline; 0 or a status code. */
int mc_write_all(mc_conn *conn, const uint8_t *data, size_t size, int64_t deadline_ms, meter_error *error);
/* Reads exactly size bytes before the deadline; 0 or a status code. */
int mc_read_exact(mc_conn *conn, uint8_t *data, size_t size, int64_t deadline_ms, meter_error *error);
/* Waits until fd is ready for `events` (POLLIN/POLLOUT) or the deadline passes: 0 or a status code. */
int mc_wait_fd(int fd, short events, int64_t deadline_ms, meter_error *error);
/* TLS client handshake on conn->fd (tls.c): 0, or a status code with *error filled. */
int mc_tls_start(mc_conn *conn, const char *host, const meter_connect_options *options, int64_t deadline_ms,
                 meter_error *error);
/* After SSL_read/SSL_write returned ret <= 0: waits for the socket when OpenSSL wants it (0), or
 * fails with the reason (tls.c). */
int mc_tls_retry(mc_conn *conn, int ret, const char *operation, int64_t deadline_ms, meter_error *error);
/* Closes the connection (TLS session, socket); safe to call twice. */
void mc_conn_close(mc_conn *conn);
/* Monotonic clock in milliseconds. */
int64_t mc_now_ms(void);
int64_t mc_now_us(void);

/* ---- Client (client.c) ---- */

struct meter_client {
    mc_conn conn;
    int timeout_ms;
    uint32_t next_stream_id;
    uint32_t max_frame_bytes;  /* largest payload the server accepts */
    uint32_t max_batch_events;
    uint32_t max_in_flight;
    char *tenant;
    char *server_version;
    int server_streams;        /* HandshakeAck.server_streams: CANCEL is safe to send */
};

/*
 * One request/response round trip: sends `request` as method `method`, waits for the RESPONSE
 * on its stream and unpacks it with `response_descriptor` into *response (free with
 * protobuf_c_message_free_unpacked). A non-zero status fills *error from the ErrorDetail.
 */
int mc_call(meter_client *client, uint16_t method, const ProtobufCMessage *request,
            const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **response,
            meter_error *error);
/* mc_call for a request built in `arena`: fails with METER_INTERNAL when the arena ran out of
 * memory while the request was built, and frees the arena either way. */
int mc_call_with_arena(meter_client *client, uint16_t method, mc_arena *arena, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **response,
                       meter_error *error);
/* For calls whose answer carries nothing the caller keeps: mc_call (mc_call_with_arena when
 * arena is not NULL), then frees the decoded response; returns the call's status. */
int mc_call_for_status(meter_client *client, uint16_t method, mc_arena *arena, const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *response_descriptor, meter_error *error);

/*
 * A server-streaming call (docs/protocol.md, "Server streams"): sends `request` as `method`, then
 * calls on_message for every MESSAGE payload of its stream until the stream's RESPONSE. When
 * on_message returns non-zero, sends CANCEL and keeps reading (without calling it again) until
 * the RESPONSE (CANCELLED). Returns 0 when the stream ended OK or by the caller's cancel, else
 * the status (from the ErrorDetail, or of the transport). max_wait_ms > 0: fail with
 * METER_DEADLINE_EXCEEDED (the connection is closed) when no frame came for that long.
 */
int mc_stream_call(meter_client *client, uint16_t method, const ProtobufCMessage *request,
                   int (*on_message)(const uint8_t *payload, size_t length, void *user), void *user,
                   int max_wait_ms, meter_error *error);

/* ---- Conversions between the public structs and protobuf-c messages ---- */

/* Builds a MeterDefinition / Event / MeterReference inside the arena (meters.c, ingest.c). */
Meterd__V1__MeterDefinition *mc_definition_to_pb(mc_arena *arena, const meter_definition *definition);
Meterd__V1__Event *mc_event_to_pb(mc_arena *arena, const meter_event *event);
Meterd__V1__MeterReference *mc_ref_to_pb(mc_arena *arena, meter_ref ref);
Meterd__V1__MeterFilter **mc_filters_to_pb(mc_arena *arena, const meter_filter *filters, size_t n);

/* Copies a Meter into a malloc'd meter_info; NULL when out of memory (meters.c). */
int mc_meter_from_pb(const Meterd__V1__Meter *pb, meter_info *out);
void mc_meter_info_clear(meter_info *info);

#endif
