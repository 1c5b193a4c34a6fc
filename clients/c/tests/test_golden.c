/* test_golden.c: every vector of proto/testdata decodes (frame header + protobuf payload via
 * protobuf-c) to the documented values and re-encodes byte for byte; the library's own
 * encoders produce the same bytes from the public structs. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static const char *testdata_dir(void)
{
    const char *env = getenv("METERD_TESTDATA");
    return env && *env ? env : "../../proto/testdata";
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads a .hex file into a malloc'd byte buffer; NULL when missing or malformed. */
static uint8_t *read_hex(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", testdata_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cannot open %s\n", path);
        return NULL;
    }
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len % 2)
        return NULL;
    uint8_t *bytes = malloc(len / 2 + 1);
    for (size_t i = 0; bytes && i < len / 2; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(bytes);
            return NULL;
        }
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    *size = len / 2;
    return bytes;
}

/* Decodes a whole frame, checks its header, unpacks its payload with `descriptor`, re-encodes
 * it with mc_frame_encode and compares bytes. Returns the unpacked message (caller frees). */
static ProtobufCMessage *roundtrip(const char *name, const ProtobufCMessageDescriptor *descriptor,
                                   const mc_header *want, uint8_t **raw_out, size_t *raw_size)
{
    size_t size;
    uint8_t *raw = read_hex(name, &size);
    CHECK(raw != NULL, "%s readable", name);
    if (!raw)
        return NULL;
    mc_header h;
    mc_header_decode(raw, &h);
    CHECK(size >= MC_HEADER_SIZE && h.length == size - MC_HEADER_SIZE, "%s: length %u, file %zu", name, h.length, size);
    CHECK(h.type == want->type && h.flags == 0 && h.code == want->code && h.stream_id == want->stream_id,
          "%s: header type %u flags %u code %u stream %u", name, h.type, h.flags, h.code, h.stream_id);
    CHECK(h.length == want->length, "%s: payload %u bytes, want %u", name, h.length, want->length);

    ProtobufCMessage *m = protobuf_c_message_unpack(descriptor, NULL, h.length, raw + MC_HEADER_SIZE);
    CHECK(m != NULL, "%s: payload decodes as %s", name, descriptor->name);
    if (m) {
        mc_header again = {.type = h.type, .flags = h.flags, .code = h.code, .stream_id = h.stream_id};
        size_t out_size;
        uint8_t *out = mc_frame_encode(&again, m, &out_size);
        CHECK(out && out_size == size && memcmp(out, raw, size) == 0, "%s: re-encoded bytes differ", name);
        free(out);
    }
    if (raw_out) {
        *raw_out = raw;
        *raw_size = size;
    } else {
        free(raw);
    }
    return m;
}

static void check_same_frame(const char *what, mc_header *h, const ProtobufCMessage *m, const uint8_t *raw, size_t size)
{
    size_t out_size;
    uint8_t *out = mc_frame_encode(h, m, &out_size);
    CHECK(out && out_size == size && memcmp(out, raw, size) == 0, "%s: library encoding differs from the vector", what);
    free(out);
}

static void test_preface(void)
{
    size_t size;
    uint8_t *raw = read_hex("preface.hex", &size);
    CHECK(raw && size == MC_PREFACE_SIZE && memcmp(raw, mc_preface, MC_PREFACE_SIZE) == 0, "preface bytes");
    free(raw);
}

static void test_handshake(void)
{
    mc_header want = {.length = 31, .type = MC_FRAME_HANDSHAKE};
    uint8_t *raw;
    size_t size;
    Meterd__V1__Handshake *m = (Meterd__V1__Handshake *)roundtrip("handshake.hex", &meterd__v1__handshake__descriptor, &want, &raw, &size);
    if (!m)
        return;
    CHECK(m->protocol_version == 1, "protocol_version %u", m->protocol_version);
    CHECK_STR(m->client_name, "golden-client");
    CHECK_STR(m->tenant_id, "default");
    CHECK_STR(m->credential, "");
    CHECK(m->max_frame_bytes == 4194304, "max_frame_bytes %u", m->max_frame_bytes);
    meterd__v1__handshake__free_unpacked(m, NULL);

    Meterd__V1__Handshake hs = METERD__V1__HANDSHAKE__INIT;
    hs.protocol_version = MC_PROTOCOL_VERSION;
    hs.client_name = (char *)"golden-client";
    hs.tenant_id = (char *)"default";
    hs.max_frame_bytes = MC_DEFAULT_MAX_FRAME;
    mc_header h = {.type = MC_FRAME_HANDSHAKE};
    check_same_frame("handshake", &h, &hs.base, raw, size);
    free(raw);
}

static void test_create_meter(void)
{
    mc_header want = {.length = 71, .type = MC_FRAME_REQUEST, .code = MC_METHOD_CREATE_METER, .stream_id = 1};
    uint8_t *raw;
    size_t size;
    Meterd__V1__CreateMeterRequest *m = (Meterd__V1__CreateMeterRequest *)roundtrip(
        "create_meter_request.hex", &meterd__v1__create_meter_request__descriptor, &want, &raw, &size);
    if (!m)
        return;
    Meterd__V1__MeterDefinition *d = m->definition;
    CHECK(d != NULL, "definition present");
    if (d) {
        CHECK_STR(d->event_name, "tokens_used");
        CHECK_STR(d->display_name, "Tokens Used");
        CHECK(d->n_filters == 1 && d->filters[0]->n_values == 2, "one filter with two values");
        if (d->n_filters == 1 && d->filters[0]->n_values == 2) {
            CHECK_STR(d->filters[0]->key, "model");
            CHECK_STR(d->filters[0]->values[0], "llama3.1");
            CHECK_STR(d->filters[0]->values[1], "llama3.2");
        }
        CHECK(d->aggregation == METERD__V1__AGGREGATION__SUM, "aggregation %d", d->aggregation);
        CHECK_STR(d->field, "tokens");
        CHECK_STR(d->multiplier, "");
        CHECK(d->reset == METERD__V1__RESET_MODE__PERIODIC, "reset %d", d->reset);
        CHECK(d->billing_period == METERD__V1__BILLING_PERIOD__MONTHLY, "period %d", d->billing_period);
        CHECK(d->anchor_ms == 0 && !d->has_anchor && d->n_group_by == 0, "anchor and group_by unset");
    }
    meterd__v1__create_meter_request__free_unpacked(m, NULL);

    /* The same request from the public meter_definition, as meter_create builds it. */
    static const char *const models[] = {"llama3.1", "llama3.2"};
    meter_filter filter = {"model", models, 2};
    meter_definition def = {.event_name = "tokens_used", .display_name = "Tokens Used", .filters = &filter,
                            .n_filters = 1, .aggregation = METER_AGG_SUM, .field = "tokens",
                            .reset = METER_RESET_PERIODIC, .period = METER_PERIOD_MONTHLY};
    mc_arena a = {0};
    Meterd__V1__CreateMeterRequest req = METERD__V1__CREATE_METER_REQUEST__INIT;
    req.definition = mc_definition_to_pb(&a, &def);
    mc_header h = {.type = MC_FRAME_REQUEST, .code = MC_METHOD_CREATE_METER, .stream_id = 1};
    check_same_frame("create_meter_request", &h, &req.base, raw, size);
    mc_arena_free(&a);
    free(raw);
}

static void check_property(const Meterd__V1__Property *p, const char *key, int kind, const char *text, int64_t integer)
{
    CHECK_STR(p->key, key);
    CHECK(p->value && (int)p->value->kind_case == kind, "%s: kind %d", key, p->value ? (int)p->value->kind_case : -1);
    if (!p->value || (int)p->value->kind_case != kind)
        return;
    if (kind == METERD__V1__PROPERTY_VALUE__KIND_INTEGER_VALUE)
        CHECK(p->value->integer_value == integer, "%s = %lld", key, (long long)p->value->integer_value);
    else if (kind == METERD__V1__PROPERTY_VALUE__KIND_STRING_VALUE)
        CHECK_STR(p->value->string_value, text);
    else
        CHECK_STR(p->value->decimal_value, text);
}

static void test_ingest_batch(void)
{
    mc_header want = {.length = 156, .type = MC_FRAME_REQUEST, .code = MC_METHOD_INGEST_BATCH, .stream_id = 3};
    uint8_t *raw;
    size_t size;
    Meterd__V1__IngestBatchRequest *m = (Meterd__V1__IngestBatchRequest *)roundtrip(
        "ingest_batch_request.hex", &meterd__v1__ingest_batch_request__descriptor, &want, &raw, &size);
    if (!m)
        return;
    CHECK(m->n_events == 2, "%zu events", m->n_events);
    if (m->n_events == 2) {
        Meterd__V1__Event *e1 = m->events[0], *e2 = m->events[1];
        CHECK_STR(e1->event_id, "evt-1");
        CHECK_STR(e2->event_id, "evt-2");
        CHECK_STR(e1->event_name, "tokens_used");
        CHECK_STR(e2->customer_id, "cust-42");
        CHECK(e1->timestamp_ms == 1767225600000LL && e2->timestamp_ms == 1767225660000LL, "timestamps");
        CHECK_STR(e1->source, "api");
        CHECK_STR(e2->source, "");
        CHECK(e1->n_properties == 2 && e2->n_properties == 2, "two properties each");
        if (e1->n_properties == 2 && e2->n_properties == 2) {
            check_property(e1->properties[0], "model", METERD__V1__PROPERTY_VALUE__KIND_STRING_VALUE, "llama3.1", 0);
            check_property(e1->properties[1], "tokens", METERD__V1__PROPERTY_VALUE__KIND_INTEGER_VALUE, NULL, 1250);
            check_property(e2->properties[0], "model", METERD__V1__PROPERTY_VALUE__KIND_STRING_VALUE, "llama3.2", 0);
            check_property(e2->properties[1], "tokens", METERD__V1__PROPERTY_VALUE__KIND_DECIMAL_VALUE, "25.5", 0);
        }
    }
    meterd__v1__ingest_batch_request__free_unpacked(m, NULL);

    /* The same batch from public meter_event structs, as meter_ingest_batch builds it. */
    meter_property p1[] = {meter_prop_string("model", "llama3.1"), meter_prop_int("tokens", 1250)};
    meter_property p2[] = {meter_prop_string("model", "llama3.2"), meter_prop_decimal("tokens", "25.5")};
    meter_event events[] = {
        {"evt-1", "tokens_used", "cust-42", 1767225600000LL, p1, 2, "api"},
        {"evt-2", "tokens_used", "cust-42", 1767225660000LL, p2, 2, NULL},
    };
    mc_arena a = {0};
    Meterd__V1__Event *pb[2] = {mc_event_to_pb(&a, &events[0]), mc_event_to_pb(&a, &events[1])};
    Meterd__V1__IngestBatchRequest req = METERD__V1__INGEST_BATCH_REQUEST__INIT;
    req.n_events = 2;
    req.events = pb;
    mc_header h = {.type = MC_FRAME_REQUEST, .code = MC_METHOD_INGEST_BATCH, .stream_id = 3};
    check_same_frame("ingest_batch_request", &h, &req.base, raw, size);
    mc_arena_free(&a);
    free(raw);
}

static void test_error_response(void)
{
    mc_header want = {.length = 111, .type = MC_FRAME_RESPONSE, .code = 6, .stream_id = 1};
    Meterd__V1__ErrorDetail *m = (Meterd__V1__ErrorDetail *)roundtrip(
        "error_response.hex", &meterd__v1__error_detail__descriptor, &want, NULL, NULL);
    if (!m)
        return;
    CHECK(m->code == 6, "code %u", m->code);
    CHECK_STR(m->message, "an active meter already uses event name \"tokens_used\"; archive it first to replace it");
    CHECK_STR(m->reason, "METER_ALREADY_EXISTS");
    meterd__v1__error_detail__free_unpacked(m, NULL);
}

static void test_goaway(void)
{
    mc_header want = {.length = 34, .type = MC_FRAME_GOAWAY};
    Meterd__V1__GoAway *m = (Meterd__V1__GoAway *)roundtrip(
        "goaway_bad_preface.hex", &meterd__v1__go_away__descriptor, &want, NULL, NULL);
    if (!m)
        return;
    CHECK_STR(m->reason, "bad preface: not a meterd client");
    CHECK(m->last_stream_id == 0, "last_stream_id %u", m->last_stream_id);
    meterd__v1__go_away__free_unpacked(m, NULL);
}

/* PING and PONG from docs/protocol.md: an 8-byte opaque payload. */
static void test_ping_pong(void)
{
    static const uint8_t ping[] = {0, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 7};
    static const uint8_t pong[] = {0, 0, 0, 8, 6, 0, 0, 0, 0, 0, 0, 7};
    uint8_t out[MC_HEADER_SIZE];
    mc_header h = {.length = 8, .type = MC_FRAME_PING, .stream_id = 7};
    mc_header_encode(&h, out);
    CHECK(memcmp(out, ping, sizeof out) == 0, "PING header");
    h.type = MC_FRAME_PONG;
    mc_header_encode(&h, out);
    CHECK(memcmp(out, pong, sizeof out) == 0, "PONG header");
    mc_header back;
    mc_header_decode(pong, &back);
    CHECK(back.length == 8 && back.type == MC_FRAME_PONG && back.stream_id == 7 && back.code == 0, "PONG decodes");
    /* Big-endian order of every field. */
    uint8_t big[MC_HEADER_SIZE];
    mc_header wide = {.length = 0x01020304, .type = 1, .code = 0x0a0b, .stream_id = 0xfffffffe};
    mc_header_encode(&wide, big);
    static const uint8_t want[] = {1, 2, 3, 4, 1, 0, 0x0a, 0x0b, 0xff, 0xff, 0xff, 0xfe};
    CHECK(memcmp(big, want, sizeof want) == 0, "big-endian header");
}

void test_golden(void)
{
    test_preface();
    test_handshake();
    test_create_meter();
    test_ingest_batch();
    test_error_response();
    test_goaway();
    test_ping_pong();
}
