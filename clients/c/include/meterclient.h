/*
 * meterclient.h: C client library of meterd, the usage-metering server.
 *
 * The library speaks meterd's binary protocol (docs/protocol.md): an 8-byte preface, then
 * 12-byte big-endian frame headers in front of protobuf payloads, over a Unix-domain socket or
 * TCP. One meter_client is one connection with one tenant; calls are synchronous (one request
 * in flight at a time) and a meter_client must not be used by two threads at once. Separate
 * clients are independent.
 *
 * Conventions:
 * - Every call that talks to the server returns 0 (METER_OK) on success, or a non-zero status
 *   code (the protocol's numbers, meter_status below) and fills *error when error is not NULL.
 * - Decimal quantities are exact decimal strings ("25.5", "1275.75"), never floating point.
 * - Times are int64 Unix milliseconds, UTC.
 * - Input structs (meter_definition, meter_event, ...) are borrowed: the library copies what it
 *   needs during the call. Results the library allocates have a matching *_free function.
 * - Every blocking step (connect, send, receive) is bounded by the client's timeout. After a
 *   transport failure (DEADLINE_EXCEEDED, UNAVAILABLE from the connection, a GOAWAY) the client
 *   is closed for good: meter_close() it and meter_connect() again. Retrying an ingest with the
 *   same event ids is safe: events already accepted come back METER_EVENT_DUPLICATE.
 * - The library never aborts or exits and ignores SIGPIPE on its own sockets (MSG_NOSIGNAL).
 */
#ifndef METERCLIENT_H
#define METERCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define METER_API __attribute__((visibility("default")))
#else
#define METER_API
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Status codes: gRPC's numbers, as in the RESPONSE header and ErrorDetail.code. */
typedef enum meter_status {
    METER_OK = 0,
    METER_CANCELLED = 1,
    METER_UNKNOWN = 2,
    METER_INVALID_ARGUMENT = 3,
    METER_DEADLINE_EXCEEDED = 4,   /* also: the client's own timeout expired */
    METER_NOT_FOUND = 5,
    METER_ALREADY_EXISTS = 6,
    METER_PERMISSION_DENIED = 7,
    METER_RESOURCE_EXHAUSTED = 8,
    METER_FAILED_PRECONDITION = 9,
    METER_ABORTED = 10,
    METER_OUT_OF_RANGE = 11,
    METER_UNIMPLEMENTED = 12,
    METER_INTERNAL = 13,           /* also: out of memory, a malformed frame from the server */
    METER_UNAVAILABLE = 14,        /* also: cannot connect, connection lost, GOAWAY */
    METER_DATA_LOSS = 15,
    METER_UNAUTHENTICATED = 16
} meter_status;

#define METER_REASON_MAX 64
#define METER_MESSAGE_MAX 512

/*
 * What went wrong. `code` is a meter_status. `reason` is meterd's rejection code name
 * ("METER_ALREADY_EXISTS", "INVALID_FILTER", ...) or empty; errors raised by the library itself
 * use "CONNECT", "TLS", "TIMEOUT", "CONNECTION_CLOSED", "GOAWAY" or "PROTOCOL". `message` is readable
 * text. Both are always NUL-terminated (truncated if longer).
 */
typedef struct meter_error {
    int code;
    char reason[METER_REASON_MAX];
    char message[METER_MESSAGE_MAX];
} meter_error;

/* The name of a status code ("ALREADY_EXISTS"); "UNKNOWN_STATUS" for others. Never NULL. */
METER_API const char *meter_status_name(int code);

/* ------------------------------------------------------------------------------------------ */
/* Connection                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct meter_client meter_client;

/*
 * Opens a connection and performs the handshake.
 *   address:    "unix:/path/to.sock", a path ("/run/meterd.sock", "./x.sock": anything with a
 *               '/' or ending in ".sock"), "host:port", "tcp:host:port" or "[ipv6]:port".
 *   tenant:     the tenant every request acts for; NULL or "" means the API key's tenant
 *               (without a key, "default"). Another tenant than the key's is refused.
 *   timeout_ms: bound on each blocking call (connect, and every request); <= 0 means 30000.
 * Authenticates with $METERD_API_KEY when it is set (see meter_connect_with_api_key); without a
 * key only meterd's own local user (or a mapped one) is admitted, on the Unix socket.
 * Returns the client, or NULL with *error filled: UNAUTHENTICATED (no, wrong or revoked key) or
 * PERMISSION_DENIED (the key's tenant is not the one asked for) when the handshake refuses the
 * credential; UNAVAILABLE when the server cannot be reached or refuses the handshake for
 * another reason, with its GOAWAY reason in the message.
 */
METER_API meter_client *meter_connect(const char *address, const char *tenant, int timeout_ms,
                                      meter_error *error);

/* Same as meter_connect, with an API key secret ("mk_...", shown once by `meterctl keys
 * create`); NULL: $METERD_API_KEY if set, else none. TCP always needs a key. */
METER_API meter_client *meter_connect_with_api_key(const char *address, const char *tenant,
                                                   const char *api_key, int timeout_ms,
                                                   meter_error *error);

/* The older name of meter_connect_with_api_key. */
METER_API meter_client *meter_connect_with_credential(const char *address, const char *tenant,
                                                      const char *credential, int timeout_ms,
                                                      meter_error *error);

/*
 * How to connect, for meter_connect_with_options. Zero it (`meter_connect_options o = {0};`)
 * and set what you need; every field may stay 0/NULL.
 *
 * TLS (and mutual TLS) is for TCP addresses, on OpenSSL: the server's certificate must chain to
 * tls_ca_file (or, when NULL, to the system's trust store) and name the host of the address
 * (or tls_server_name); TLS 1.2 or newer. A certificate that is not accepted fails the connect
 * with UNAVAILABLE, reason "TLS", and OpenSSL's verdict in the message. With mutual TLS a
 * server refusing the client's certificate (or its absence) fails the connect with UNAVAILABLE.
 */
typedef struct meter_connect_options {
    const char *api_key;              /* API key secret; NULL: $METERD_API_KEY if set, else none */
    int timeout_ms;                   /* bound on each blocking call; <= 0 means 30000 */
    int tls;                          /* non-zero: TLS over TCP (an error with a Unix socket) */
    const char *tls_ca_file;          /* PEM CA certificates to verify the server; NULL: system store */
    const char *tls_certificate_file; /* mutual TLS: client certificate chain, PEM (with tls_key_file) */
    const char *tls_key_file;         /* mutual TLS: its private key, PEM (unencrypted) */
    const char *tls_server_name;      /* name (or IP) the server's certificate must carry; NULL: the address's host */
} meter_connect_options;

/* meter_connect with options: API key, timeout and TLS. options may be NULL (all defaults).
 * Besides meter_connect's errors: INVALID_ARGUMENT (reason "TLS") for TLS on a Unix socket, a
 * certificate without its key, or files OpenSSL cannot read. */
METER_API meter_client *meter_connect_with_options(const char *address, const char *tenant,
                                                   const meter_connect_options *options,
                                                   meter_error *error);

/* Closes the connection and frees the client. NULL is allowed. */
METER_API void meter_close(meter_client *client);

/* Changes the timeout of later calls (<= 0 means 30000 ms). */
METER_API void meter_set_timeout(meter_client *client, int timeout_ms);

/* The tenant the server put in force ("default" when none was given). */
METER_API const char *meter_tenant(const meter_client *client);

/* The limit on events per meter_ingest_batch stated by the server (default 10000). */
METER_API uint32_t meter_max_batch_events(const meter_client *client);

/* 1 while the connection is usable, 0 after a transport failure or GOAWAY. */
METER_API int meter_is_connected(const meter_client *client);

/* ------------------------------------------------------------------------------------------ */
/* Meters                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum meter_aggregation {
    METER_AGG_UNSPECIFIED = 0,
    METER_AGG_COUNT = 1,        /* number of matching events; field must be NULL or "" */
    METER_AGG_SUM = 2,          /* exact sum of field, times multiplier when set */
    METER_AGG_AVG = 3,
    METER_AGG_MIN = 4,
    METER_AGG_MAX = 5,
    METER_AGG_COUNT_UNIQUE = 6,
    METER_AGG_LATEST = 7
} meter_aggregation;

typedef enum meter_reset {
    METER_RESET_UNSPECIFIED = 0,
    METER_RESET_CUMULATIVE = 1, /* a running total that never resets */
    METER_RESET_PERIODIC = 2    /* resets at each billing period boundary */
} meter_reset;

typedef enum meter_period {
    METER_PERIOD_UNSPECIFIED = 0, /* required for CUMULATIVE */
    METER_PERIOD_DAILY = 1,
    METER_PERIOD_WEEKLY = 2,
    METER_PERIOD_MONTHLY = 3,
    METER_PERIOD_QUARTERLY = 4,
    METER_PERIOD_ANNUAL = 5
} meter_period;

typedef enum meter_state {
    METER_STATE_UNSPECIFIED = 0,
    METER_STATE_ACTIVE = 1,
    METER_STATE_ARCHIVED = 2
} meter_state;

/* An event counts only if its property `key` is present with one of `values` (canonical text). */
typedef struct meter_filter {
    const char *key;
    const char *const *values;
    size_t n_values;
} meter_filter;

/*
 * A meter definition. Strings may be NULL (same as ""). Only display_name can change once the
 * meter exists. Within a meter_info returned by the library, every pointer is owned by it.
 */
typedef struct meter_definition {
    const char *event_name;      /* 1-64 of a-z 0-9 _ . - */
    const char *display_name;    /* the invoice label */
    const meter_filter *filters; /* all must match; at most 16 */
    size_t n_filters;
    meter_aggregation aggregation;
    const char *field;           /* the aggregated property; empty for COUNT */
    const char *multiplier;      /* decimal string factor for SUM, or NULL/"" for none */
    meter_reset reset;
    meter_period period;         /* for PERIODIC */
    int64_t anchor_ms;           /* PERIODIC period anchor, read only when has_anchor */
    int has_anchor;              /* 0: the default anchor 2000-01-01T00:00:00Z */
    const char *const *group_by; /* property keys queries can break usage down by; at most 4 */
    size_t n_group_by;
} meter_definition;

/* A meter as the server holds it; free with meter_info_free(). */
typedef struct meter_info {
    char *id;                    /* "mtr_<n>" */
    meter_definition definition; /* all pointers owned by this meter_info */
    meter_state state;
    int64_t created_at_ms;
    int64_t archived_at_ms;      /* 0 while ACTIVE */
    uint64_t counted, filtered_out, missing_value, overflowed; /* event counters */
    int backfill_complete;       /* 1 once usage includes every retained event */
} meter_info;

/* A page of meters; free with meter_list_free(). */
typedef struct meter_list {
    meter_info *meters;
    size_t n_meters;
    char *next_page_token; /* "" on the last page */
} meter_list;

/* Names a meter by id or by event name; build one with meter_by_id() or meter_by_name(). */
typedef struct meter_ref {
    const char *id;         /* used when not NULL */
    const char *event_name; /* else this: the active meter, or the latest archived one */
} meter_ref;

static inline meter_ref meter_by_id(const char *id) { meter_ref r = {id, NULL}; return r; }
static inline meter_ref meter_by_name(const char *event_name) { meter_ref r = {NULL, event_name}; return r; }

/* Creates a meter. On success *out (if out is not NULL) receives the new meter.
 * ALREADY_EXISTS (reason METER_ALREADY_EXISTS) when an active meter has the event name. */
METER_API int meter_create(meter_client *client, const meter_definition *definition,
                           meter_info **out, meter_error *error);

/* Fetches one meter. NOT_FOUND (METER_NOT_FOUND) when none matches. */
METER_API int meter_get(meter_client *client, meter_ref meter, meter_info **out, meter_error *error);

/* Lists the tenant's meters in creation order. page_size 0: the server's default;
 * page_token NULL or "": the first page. */
METER_API int meter_list_meters(meter_client *client, uint32_t page_size, const char *page_token,
                                int include_archived, meter_list **out, meter_error *error);

/* Changes a meter's display name, the one mutable field. */
METER_API int meter_update_display_name(meter_client *client, meter_ref meter, const char *display_name,
                                        meter_info **out, meter_error *error);

/* Archives a meter: it stops counting, keeps its usage, and frees its event name. */
METER_API int meter_archive(meter_client *client, meter_ref meter, meter_info **out,
                            meter_error *error);

METER_API void meter_info_free(meter_info *info);
METER_API void meter_list_free(meter_list *list);

/* ------------------------------------------------------------------------------------------ */
/* Ingest                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum meter_prop_kind {
    METER_PROP_STRING = 1,
    METER_PROP_INT = 2,     /* int64 */
    METER_PROP_DECIMAL = 3, /* exact decimal text, e.g. "25.5" */
    METER_PROP_BOOL = 4
} meter_prop_kind;

/* One event property; build with meter_prop_string/int/decimal/bool(). */
typedef struct meter_property {
    const char *key;
    meter_prop_kind kind;
    const char *text;  /* STRING and DECIMAL */
    int64_t integer;   /* INT */
    int boolean;       /* BOOL */
} meter_property;

static inline meter_property meter_prop_string(const char *key, const char *value)
{ meter_property p = {key, METER_PROP_STRING, value, 0, 0}; return p; }
static inline meter_property meter_prop_int(const char *key, int64_t value)
{ meter_property p = {key, METER_PROP_INT, NULL, value, 0}; return p; }
static inline meter_property meter_prop_decimal(const char *key, const char *value)
{ meter_property p = {key, METER_PROP_DECIMAL, value, 0, 0}; return p; }
static inline meter_property meter_prop_bool(const char *key, int value)
{ meter_property p = {key, METER_PROP_BOOL, NULL, 0, value != 0}; return p; }

/* A usage event. */
typedef struct meter_event {
    const char *event_id;     /* idempotency key, 1-128 bytes */
    const char *event_name;   /* the name meters select on */
    const char *customer_id;
    int64_t timestamp_ms;     /* within the server's late window and future skew */
    const meter_property *properties;
    size_t n_properties;
    const char *source;       /* NULL or "" for none */
} meter_event;

typedef enum meter_event_status {
    METER_EVENT_UNSPECIFIED = 0,
    METER_EVENT_ACCEPTED = 1,  /* durable; `outcome` says whether a meter counted it */
    METER_EVENT_DUPLICATE = 2, /* its id was already accepted; nothing changed */
    METER_EVENT_REJECTED = 3   /* invalid, not written; see reason and message */
} meter_event_status;

typedef enum meter_event_outcome {
    METER_OUTCOME_UNSPECIFIED = 0, /* DUPLICATE and REJECTED */
    METER_OUTCOME_COUNTED = 1,
    METER_OUTCOME_NO_ACTIVE_METER = 2,
    METER_OUTCOME_FILTERED_OUT = 3,
    METER_OUTCOME_MISSING_VALUE = 4,
    METER_OUTCOME_OVERFLOW = 5
} meter_event_outcome;

/* The result of one event. reason and message are empty unless REJECTED. */
typedef struct meter_event_result {
    meter_event_status status;
    meter_event_outcome outcome;
    char reason[METER_REASON_MAX];   /* "TIMESTAMP_TOO_OLD", "INVALID_PROPERTY", ... */
    char message[256];               /* truncated if longer */
} meter_event_result;

/* How many results of a batch have each status. */
typedef struct meter_batch_summary {
    uint32_t accepted, duplicates, rejected;
} meter_batch_summary;

/* Ingests one event. A rejected event is METER_OK with result->status REJECTED. */
METER_API int meter_ingest(meter_client *client, const meter_event *event,
                           meter_event_result *result, meter_error *error);

/*
 * Ingests n events (at most meter_max_batch_events()) in one request. results, when not NULL,
 * is an array of n filled in request order; summary may be NULL. METER_OK means every ACCEPTED
 * event is durable; a non-zero status concerns the whole batch (nothing is reported per event).
 */
METER_API int meter_ingest_batch(meter_client *client, const meter_event *events, size_t n,
                                 meter_event_result *results, meter_batch_summary *summary,
                                 meter_error *error);

/* Names of the enums above ("ACCEPTED", "COUNTED", ...). Never NULL. */
METER_API const char *meter_event_status_name(meter_event_status status);
METER_API const char *meter_event_outcome_name(meter_event_outcome outcome);

/* ------------------------------------------------------------------------------------------ */
/* Usage                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef enum meter_window {
    METER_WINDOW_NONE = 0, /* the whole range is one window */
    METER_WINDOW_MINUTE = 1,
    METER_WINDOW_15_MINUTES = 2,
    METER_WINDOW_30_MINUTES = 3,
    METER_WINDOW_HOUR = 4,
    METER_WINDOW_3_HOURS = 5,
    METER_WINDOW_6_HOURS = 6,
    METER_WINDOW_12_HOURS = 7,
    METER_WINDOW_DAY = 8,
    METER_WINDOW_WEEK = 9,
    METER_WINDOW_MONTH = 10
} meter_window;

/* A usage query over [from_ms, to_ms) (whole minutes). Unused fields zero / NULL. */
typedef struct meter_query {
    meter_ref meter;
    int64_t from_ms, to_ms;
    meter_window window;
    const char *customer_id;           /* only this customer; NULL for all */
    int group_by_customer;             /* one row per customer and window */
    const char *const *group_by;       /* a subset of the meter's group_by keys */
    size_t n_group_by;
    const meter_filter *group_filters; /* keep only these group values */
    size_t n_group_filters;
} meter_query;

typedef struct meter_group_value {
    char *key;
    char *value;  /* canonical text; "" when not present */
    int present;
} meter_group_value;

/* The usage of one window (and customer and group when the query breaks it down). */
typedef struct meter_usage_row {
    int64_t window_start_ms, window_end_ms;
    char *customer_id;         /* "" unless the query grouped by or named a customer */
    meter_group_value *group;
    size_t n_group;
    char *value;               /* exact decimal text, e.g. "1275.75"; "" when !has_value */
    int has_value;
    int64_t event_count;
} meter_usage_row;

/* Usage rows; free with meter_usage_free(). */
typedef struct meter_usage {
    char *meter_id;
    meter_usage_row *rows;
    size_t n_rows;
} meter_usage;

/* Usage of a meter over windows. */
METER_API int meter_query_usage(meter_client *client, const meter_query *query, meter_usage **out,
                                meter_error *error);

/* Usage "now": the billing period (PERIODIC) or running total (CUMULATIVE) at at_ms
 * (0: the server's now), for one customer or all (customer_id NULL). One row. */
METER_API int meter_current_usage(meter_client *client, meter_ref meter, const char *customer_id,
                                  int64_t at_ms, meter_usage **out, meter_error *error);

METER_API void meter_usage_free(meter_usage *usage);

/* ------------------------------------------------------------------------------------------ */
/* Health                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum meter_serving {
    METER_SERVING_UNSPECIFIED = 0,
    METER_SERVING = 1,
    METER_NOT_SERVING = 2 /* up, but refusing writes */
} meter_serving;

/* Health.Check: *serving receives the status; message (may be NULL) receives the server's
 * explanation, truncated to message_size. */
METER_API int meter_health(meter_client *client, meter_serving *serving, char *message,
                           size_t message_size, meter_error *error);

/* Health.ServerInfo. Strings are truncated to their buffers. */
typedef struct meter_server_info {
    char version[64];
    int64_t uptime_ms;
    char durability[64];            /* "fsync", "interval(<n>ms)" or "none" */
    uint64_t last_applied_sequence;
    uint64_t first_retained_sequence;
    char failure[256];              /* "" unless a log write failed */
    uint64_t group_commits;
    uint64_t syncs;
} meter_server_info;

METER_API int meter_server_info_get(meter_client *client, meter_server_info *info, meter_error *error);

/* ----- Entitlements (docs/entitlements.md) ------------------------------------------------ */

/* Entitlements.SetEntitlement (admin): the meter's limit (exact decimal text) for customer_id,
 * or the tenant-wide default when customer_id is NULL or "". soft: 0 HARD, 1 SOFT. */
METER_API int meter_set_entitlement(meter_client *client, meter_ref meter, const char *customer_id,
                                    const char *limit, int soft, meter_error *error);

/* Entitlements.CheckEntitlement (read role): may customer_id use the meter at at_ms (0: now)?
 * Decimals are exact text; period bounds are 0 for a CUMULATIVE meter (lifetime).
 * METER_NOT_FOUND (reason ENTITLEMENT_NOT_FOUND) when neither the customer nor the default has one. */
typedef struct meter_entitlement_check {
    int has_access;
    int is_default;
    int soft;
    char usage[64];
    char limit[64];
    char granted[64];
    char remaining[64];
    char overage[64];
    int64_t period_start_ms;
    int64_t period_end_ms;
} meter_entitlement_check;

METER_API int meter_check_entitlement(meter_client *client, meter_ref meter, const char *customer_id,
                                      int64_t at_ms, meter_entitlement_check *check, meter_error *error);

/* Entitlements.RemoveEntitlement (admin): removes the meter's entitlement for customer_id, or the
 * tenant-wide default when customer_id is NULL or "". NOT_FOUND (ENTITLEMENT_NOT_FOUND) when none. */
METER_API int meter_remove_entitlement(meter_client *client, meter_ref meter, const char *customer_id,
                                       meter_error *error);

/* Text fields below are copied into fixed buffers; longer text (a customer id above 255 bytes,
 * beyond the server's default limit of 128) is cut short, always NUL-terminated. */

/* A grant: raises customer_id's limit on the meter by amount over [effective_from_ms, expires_at_ms). */
typedef struct meter_grant {
    char id[32];                /* "grt_<n>" */
    char meter_id[32];
    char customer_id[256];
    char amount[64];            /* exact decimal text */
    int64_t effective_from_ms;
    int64_t expires_at_ms;      /* 0: never expires */
    int64_t created_at_ms;
} meter_grant;

/* Entitlements.AddGrant (admin): amount (exact decimal text, above 0) for customer_id, effective
 * from effective_from_ms (0: now) until expires_at_ms (0: never). *out (if not NULL) receives it. */
METER_API int meter_add_grant(meter_client *client, meter_ref meter, const char *customer_id, const char *amount,
                              int64_t effective_from_ms, int64_t expires_at_ms, meter_grant *out, meter_error *error);

/* Entitlements.RemoveGrant (admin). NOT_FOUND (GRANT_NOT_FOUND) when no grant has the id. */
METER_API int meter_remove_grant(meter_client *client, const char *grant_id, meter_error *error);

/* A threshold rule: notify when a customer's usage reaches value, or percent of their limit. */
typedef struct meter_threshold_rule {
    char id[32];                /* "thr_<n>" */
    char meter_id[32];
    char customer_id[256];      /* "": every customer of the tenant */
    char value[64];             /* an absolute level, or "" */
    char percent[64];           /* a percentage of the entitlement limit, or "" */
    int64_t created_at_ms;
} meter_threshold_rule;

/* Entitlements.AddThresholdRule (admin): exactly one of value and percent (exact decimal text) is
 * given, the other NULL; customer_id NULL or "": every customer. *out (if not NULL) receives it. */
METER_API int meter_add_threshold_rule(meter_client *client, meter_ref meter, const char *customer_id,
                                       const char *value, const char *percent, meter_threshold_rule *out,
                                       meter_error *error);

/* Entitlements.ListThresholdRules (admin): the rules of one meter, or of every meter when both
 * fields of meter are NULL. *rules is an array of *n rules (NULL when none); free it with
 * meter_threshold_rules_free(). */
METER_API int meter_list_threshold_rules(meter_client *client, meter_ref meter, meter_threshold_rule **rules,
                                         size_t *n, meter_error *error);
METER_API void meter_threshold_rules_free(meter_threshold_rule *rules);

/* Entitlements.RemoveThresholdRule (admin). NOT_FOUND (THRESHOLD_RULE_NOT_FOUND) when none. */
METER_API int meter_remove_threshold_rule(meter_client *client, const char *rule_id, meter_error *error);

/* One threshold crossing, numbered 1, 2, 3... in log order for the whole server. */
typedef struct meter_notification {
    uint64_t number;
    char rule_id[32];
    char meter_id[32];
    char customer_id[256];
    char threshold[64];         /* the level and the usage right after the crossing, exact text */
    char usage[64];
    int64_t period_start_ms;    /* both 0 for a CUMULATIVE meter */
    int64_t period_end_ms;
    uint64_t sequence;          /* the crossing record's log position and accept time */
    int64_t at_ms;
} meter_notification;

/* Entitlements.ListNotifications (read role), a long poll: the tenant's notifications numbered
 * above after_number (at most limit; 0 means 100), waiting up to wait_ms for one when there is
 * none yet (keep the client timeout above wait_ms). *out is an array of *n (NULL when none); free
 * it with meter_notifications_free(). *last_number (if not NULL): resume from it when *n is 0. */
METER_API int meter_list_notifications(meter_client *client, uint64_t after_number, uint32_t limit, uint32_t wait_ms,
                                       meter_notification **out, size_t *n, uint64_t *last_number,
                                       meter_error *error);
METER_API void meter_notifications_free(meter_notification *notifications);

/* ----- Notifications: the WatchNotifications server stream ------------------------------- */

/* Called for each notification, oldest first (the struct is the library's, valid only during
 * the call; copy what you keep). Return 0 to keep watching, non-zero to stop. */
typedef int (*meter_notification_callback)(const meter_notification *notification, void *user);

/* Entitlements.WatchNotifications (read role, docs/protocol.md "Server streams"): blocks the
 * calling thread, calling callback for every notification of the tenant numbered above
 * after_number (those already raised, then each new one as it is raised), until:
 *  - callback returns non-zero: the library sends CANCEL, waits for the stream's end, and
 *    returns METER_OK (the connection stays usable);
 *  - the server ends the stream (it is shutting down): METER_OK; connect again and resume;
 *  - an error: its status (METER_NOT_FOUND for an unknown meter, METER_UNAVAILABLE when the
 *    connection broke, ...).
 * meter: only that meter's notifications; a meter_ref with id and event_name both NULL for
 * every meter. max_wait_ms > 0 fails with METER_DEADLINE_EXCEEDED (and closes
 * the connection) when nothing arrives for that long; 0 waits as long as it takes. Resume,
 * after a reconnect or a server restart, with the number of the last notification received:
 * nothing is missed and nothing comes twice. */
METER_API int meter_watch_notifications(meter_client *client, uint64_t after_number, meter_ref meter,
                                        meter_notification_callback callback, void *user, int max_wait_ms,
                                        meter_error *error);

/* PING/PONG: measures a round trip (microseconds, may be NULL) and keeps the connection alive. */
METER_API int meter_ping(meter_client *client, int64_t *round_trip_us, meter_error *error);

#ifdef __cplusplus
}
#endif

#endif /* METERCLIENT_H */
